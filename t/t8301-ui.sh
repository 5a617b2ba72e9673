#!/bin/sh
test_description='web UI at /ui/: headers, redirect, 404 without -ui, no path traversal (curl); then in headless Chromium on three servers with ACLs default deny: token login, overview with 3 alive nodes, nodes, KV create/edit/CAS/delete seen from the CLI, services, a check flipping to critical live, 403s'
. ./lib.sh

test_have_prereq PERL || { skip_all='needs perl JSON::PP'; test_done; }

MASTER=6b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
TEST_SERVERS="s1 s2 s3"
reserve_agents s1 s2 s3 c1 c2

mkdir config uidir &&
cat >config/acl.hcl <<EOF &&
acl {
  enabled = true
  default_policy = "deny"
  tokens {
    master = "$MASTER"
    agent = "$MASTER"
  }
}
EOF
printf '<!DOCTYPE html><title>mine</title>\n' >uidir/index.html &&
printf 'secret\n' >outside.txt &&
printf 'hidden\n' >uidir/.hidden &&
ln -s "$TRASH/outside.txt" uidir/link.txt &&
cat >uidir.hcl <<EOF || test_bail_ "cannot write the configs"
ui_config { dir = "$TRASH/uidir" }
EOF

test_expect_success 'setup: three servers with -ui, ACLs default deny' '
	start_servers -bootstrap-expect=3 -ui -config-dir="$TRASH/config" &&
	wait_leader 60 s1 s2 s3 &&
	test_set_prereq CLUSTER
'

# Two more, apart from the cluster: dev agents (-dev turns the UI on),
# one with it off, one serving ui_config.dir.
test_expect_success 'setup: an agent without the UI, one with ui_config.dir' '
	start_agent c1 -dev -hcl="ui_config { enabled = false }" &&
	start_agent c2 -dev -config-file="$TRASH/uidir.hcl"
'

# get URL: GET with headers to ./hdr, body to ./out, status in $status.
get () {
	rm -f out hdr
	status=$(test_curl -o out -D hdr -w '%{http_code}' --path-as-is "$@")
}

test_expect_success 'without -ui: /ui/ is 404 and / says the UI is disabled' '
	get "$c1_HTTP/ui/" && test "$status" = 404 &&
	get "$c1_HTTP/ui/index.html" && test "$status" = 404 &&
	get "$c1_HTTP/" && test "$status" = 200 &&
	test_grep "UI disabled" out
'

test_expect_success CLUSTER 'with -ui: / and /ui redirect to /ui/ (301)' '
	get "$s1_HTTP/" && test "$status" = 301 &&
	test "$(header Location)" = /ui/ &&
	get "$s1_HTTP/ui" && test "$status" = 301 &&
	test "$(header Location)" = /ui/
'

# ui_headers CTYPE: the last response was a UI file of that type, with
# the security and caching headers.
ui_headers () {
	test "$status" = 200 &&
	test "$(header Content-Type)" = "$1" &&
	test "$(header X-Content-Type-Options)" = nosniff &&
	header Content-Security-Policy >csp &&
	test_grep "^default-src 'self'; " csp &&
	test_grep "frame-ancestors 'none'" csp &&
	test_grep "script-src 'self';" csp &&
	test_grep "style-src 'self';" csp &&
	! grep "unsafe-inline\|unsafe-eval" csp &&
	test "$(header Cache-Control)" = no-cache &&
	test -n "$(header ETag)"
}

test_expect_success CLUSTER 'UI files: content types, CSP, nosniff, ETag, no token needed' '
	get "$s1_HTTP/ui/" && ui_headers "text/html; charset=utf-8" &&
	test_grep "<script src=\"app.js\"" out &&
	get "$s1_HTTP/ui/index.html" && ui_headers "text/html; charset=utf-8" &&
	get "$s1_HTTP/ui/app.js" && ui_headers "text/javascript; charset=utf-8" &&
	get "$s1_HTTP/ui/app.css" && ui_headers "text/css; charset=utf-8" &&
	test_cmp ../../share/ui/app.css out
'

test_expect_success CLUSTER 'the page loads nothing from elsewhere, has no inline script or style' '
	! grep -i "https\?://" ../../share/ui/index.html ../../share/ui/app.css &&
	! grep -i "<script>\|<style\|style=\|onclick=\|onload=" ../../share/ui/index.html &&
	! grep "innerHTML\|eval(\|https\?://" ../../share/ui/app.js
'

test_expect_success CLUSTER 'ETag: If-None-Match answers 304, a stale one 200' '
	get "$s1_HTTP/ui/app.js" && etag=$(header ETag) &&
	get -H "If-None-Match: $etag" "$s1_HTTP/ui/app.js" &&
	test "$status" = 304 && ! test -s out &&
	get -H "If-None-Match: \"0000\"" "$s1_HTTP/ui/app.js" &&
	test "$status" = 200
'

test_expect_success CLUSTER 'HEAD works, other methods are 405' '
	status=$(test_curl -o /dev/null -w "%{http_code}" -I "$s1_HTTP/ui/app.js") &&
	test "$status" = 200 &&
	get -X POST -d x "$s1_HTTP/ui/app.js" && test "$status" = 405 &&
	get -X DELETE "$s1_HTTP/ui/index.html" && test "$status" = 405
'

# no_escape BASE: none of these paths under BASE/ui/ serves a file.
no_escape () {
	for p in ../../../../etc/passwd ..%2f..%2f..%2fetc%2fpasswd \
		%2e%2e/%2e%2e/etc/passwd %2e%2e%2f%2e%2e%2fetc%2fpasswd \
		..%5c..%5cetc%5cpasswd %2fetc%2fpasswd /etc/passwd \
		.hidden %2ehidden link.txt ./index.html sub/../index.html \
		index.html%00.js nope.js "index.html/"
	do
		get "$1/ui/$p" || return 1
		case $status in
		400|404) ;;
		*) echo >&9 "$1/ui/$p answered $status"; return 1 ;;
		esac
		if grep -q "root:\|secret\|hidden" out; then
			echo >&9 "$1/ui/$p leaked a file"; return 1
		fi
	done
}

test_expect_success CLUSTER 'no path traversal (embedded files)' '
	no_escape "$s1_HTTP"
'

test_expect_success 'ui_config.dir: serves that directory, nothing outside it' '
	get "$c2_HTTP/ui/" && ui_headers "text/html; charset=utf-8" &&
	test_cmp uidir/index.html out &&
	etag=$(header ETag) &&
	get -H "If-None-Match: $etag" "$c2_HTTP/ui/index.html" &&
	test "$status" = 304 &&
	get "$c2_HTTP/ui/link.txt" && test "$status" = 404 &&
	no_escape "$c2_HTTP"
'

test_expect_success '-ui with -ui-dir is refused, as in Consul' '
	test_expect_code 1 proconsul agent -ui -ui-dir="$TRASH/uidir" \
		-data-dir="$TRASH/both" -bind="$TEST_NET.200" \
		-client="$TEST_NET.200" 2>err &&
	test_grep "Both the ui_config.enabled and ui_config.dir" err
'

# ---------------------------------------------------------------------
# The browser part: chromedriver (on 127.0.0.1, a free port it picks
# itself: it cannot bind another address) and a headless Chromium.

if command -v chromium >/dev/null 2>&1 &&
   command -v chromedriver >/dev/null 2>&1; then
	test_set_prereq BROWSER
elif test "${CI:-}" = true; then
	test_expect_success 'CI: chromium and chromium-driver are installed' '
		echo >&9 "CI=true but chromium/chromedriver are missing: run scripts/deps.sh"
		false
	'
else
	echo "# skip: chromium or chromedriver missing (scripts/deps.sh installs them)"
fi

SHOTS=$TRASH/screenshots
KEEP_SHOTS=${TEST_UI_SHOTS:-$TEST_DIRECTORY/ui-screenshots}
mkdir "$SHOTS" || test_bail_ "cannot make $SHOTS"

stop_driver () {
	if test -n "${DRIVER_URL:-}" && test -f session; then
		perl "$TEST_DIRECTORY/ui-driver.pl" "$DRIVER_URL" session quit \
			>/dev/null 2>&1
	fi
	if test -n "${DRIVER_PID:-}" && pid_alive "$DRIVER_PID"; then
		kill "$DRIVER_PID" 2>/dev/null
		wait_pid "$DRIVER_PID" 10 >/dev/null 2>&1
	fi
	DRIVER_PID=
}
ui_exit_ () {
	ui_rc_=$?
	stop_driver
	(exit $ui_rc_)
	test_exit_trap_
}
trap ui_exit_ EXIT

# ui CMD ARGS...: one ui-driver.pl command on our session.
ui () {
	perl "$TEST_DIRECTORY/ui-driver.pl" "$DRIVER_URL" "$TRASH/session" "$@"
}

# shot NAME: screenshot of the page as it is, to $SHOTS/NAME.png.
shot () {
	ui shot "$SHOTS/$1.png" && test_file_not_empty "$SHOTS/$1.png"
}

test_expect_success BROWSER,CLUSTER 'browser: chromedriver and a headless Chromium' '
	chromedriver --port=0 >chromedriver.log 2>&1 &
	DRIVER_PID=$! &&
	poll_until 30 grep -q "started successfully on port" chromedriver.log &&
	port=$(sed -n "s/.*started successfully on port \([0-9]*\).*/\1/p" \
		chromedriver.log) &&
	DRIVER_URL=http://127.0.0.1:$port &&
	ui new &&
	test_set_prereq UI
'

test_expect_success UI 'anonymous under default deny: / opens the UI, a key shows a clear 403' '
	ui go "$s1_HTTP/" &&
	ui wait-text "#card-leader" ":8300" 30 &&
	ui js "return location.pathname" >path &&
	echo "\"/ui/\"" >expect && test_cmp expect path &&
	ui go "$s1_HTTP/ui/#/kv/some/key" &&
	ui wait-text "#banner" "Permission denied (403)" 30 &&
	ui wait-text "#whoami" anonymous 5 &&
	shot anonymous-kv-403
'

test_expect_success UI 'a bad token is refused at login' '
	ui go "$s1_HTTP/ui/#/acl" &&
	ui type "#token" 00000000-1111-2222-3333-444444444444 &&
	ui click "#login-btn" &&
	ui wait-text "#banner" "Login failed (403)" 30 &&
	ui js "return sessionStorage.length" >n && echo 0 >expect &&
	test_cmp expect n
'

test_expect_success UI 'login with a token: kept in sessionStorage only; tokens and policies listed' '
	ui type "#token" "$MASTER" &&
	ui click "#login-btn" &&
	ui wait-text "#acl-tokens-table" 00000000-0000-0000-0000-000000000002 30 &&
	ui wait-text "#acl-policies-table" global-management 30 &&
	ui wait-text "#whoami" "token set" 5 &&
	ui js "return [sessionStorage.getItem(\"proconsul.token\"), localStorage.length, document.cookie]" >store &&
	echo "[\"$MASTER\",0,\"\"]" >expect && test_cmp expect store &&
	shot acl
'

test_expect_success UI 'overview: leader, Raft term and commit index, 3 alive nodes' '
	ui go "$s1_HTTP/ui/#/overview" &&
	ui wait-count "#members .st-alive" 3 30 &&
	ui wait-text "#card-alive" 3 10 &&
	ui text "#card-commit" >commit &&
	grep "^[1-9][0-9]*$" commit &&
	ui text "#card-term" >term && grep "^[1-9][0-9]*$" term &&
	proconsul operator raft list-peers -http-addr="$s1_HTTP" \
		-token="$MASTER" >peers &&
	leader=$(sed -n "s/.* \([0-9.]*:8300\) *leader .*/\1/p" peers) &&
	test -n "$leader" &&
	ui wait-text "#card-leader" "$leader" 10 &&
	shot overview
'

test_expect_success UI 'nodes: gossip status, server/client, the leader marked' '
	ui go "$s1_HTTP/ui/#/nodes" &&
	ui wait-count "#nodes-table [data-leader=true]" 1 30 &&
	ui wait-count "#nodes-table .st-alive" 3 30 &&
	proconsul operator raft list-peers -http-addr="$s1_HTTP" \
		-token="$MASTER" >peers &&
	leader=$(sed -n "s/^\([a-z0-9]*\) .*leader .*/\1/p" peers) &&
	test -n "$leader" &&
	ui wait-text "#nodes-table [data-node=$leader]" leader 10 &&
	for n in s1 s2 s3; do
		ui wait-text "#nodes-table [data-node=$n]" server 10 || return 1
	done &&
	shot nodes
'

test_expect_success UI 'KV: create a key with flags in the UI, read it with the CLI' '
	ui go "$s1_HTTP/ui/#/kv/" &&
	ui type "#kv-new-key" ui/created &&
	ui type "#kv-new-value" from-the-browser &&
	ui type "#kv-new-flags" 7 &&
	ui click "#kv-create-btn" &&
	ui wait-text "#kv-meta" ModifyIndex 30 &&
	proconsul kv get -http-addr="$s2_HTTP" -token="$MASTER" ui/created >actual &&
	echo from-the-browser >expect && test_cmp expect actual &&
	API_ADDR=$s2_HTTP api GET "/v1/kv/ui/created" -H "X-Consul-Token: $MASTER" &&
	expect_status 200 && test "$(json_get out "\$j->[0]{Flags}")" = 7 &&
	shot kv-key
'

test_expect_success UI 'KV: a second create of the same key is refused' '
	ui go "$s1_HTTP/ui/#/kv/ui/" &&
	ui wait-text "#kv-keys" created 30 &&
	shot kv-folder &&
	ui type "#kv-new-key" created &&
	ui click "#kv-create-btn" &&
	ui wait-text "#banner" "already exists" 30
'

test_expect_success UI 'KV: edit saves with CAS; a concurrent change is not overwritten' '
	ui go "$s1_HTTP/ui/#/kv/ui/created" &&
	ui wait-text "#kv-meta" ModifyIndex 30 &&
	ui type "#kv-value" edited &&
	ui click "#kv-save" &&
	ui wait-text "#banner" "Saved ui/created" 30 &&
	proconsul kv get -http-addr="$s3_HTTP" -token="$MASTER" ui/created >actual &&
	echo edited >expect && test_cmp expect actual &&
	ui wait-text "#kv-meta" ModifyIndex 30 &&
	proconsul kv put -http-addr="$s2_HTTP" -token="$MASTER" ui/created by-cli &&
	ui type "#kv-value" stale-edit &&
	ui click "#kv-save" &&
	ui wait-text "#banner" "changed by someone else" 30 &&
	proconsul kv get -http-addr="$s3_HTTP" -token="$MASTER" ui/created >actual &&
	echo by-cli >expect && test_cmp expect actual
'

test_expect_success UI 'KV: delete' '
	ui go "$s1_HTTP/ui/#/kv/ui/created" &&
	ui wait-text "#kv-value" "" 30 &&
	ui js "return document.getElementById(\"kv-value\").value" >v &&
	echo "\"by-cli\"" >expect && test_cmp expect v &&
	ui click "#kv-delete" &&
	ui wait-text "#banner" "Deleted ui/created" 30 &&
	test_must_fail proconsul kv get -http-addr="$s2_HTTP" -token="$MASTER" ui/created
'

test_expect_success UI 'services: listed with health, filterable' '
	API_ADDR=$s1_HTTP api PUT /v1/agent/service/register \
		-H "X-Consul-Token: $MASTER" \
		-d "{\"Name\":\"web\",\"Port\":80,\"Tags\":[\"blue\"],\"Check\":{\"CheckID\":\"web-ttl\",\"TTL\":\"300s\"}}" &&
	expect_status 200 &&
	API_ADDR=$s1_HTTP api PUT "/v1/agent/check/pass/web-ttl?note=all+good" \
		-H "X-Consul-Token: $MASTER" &&
	expect_status 200 &&
	ui go "$s1_HTTP/ui/#/services" &&
	ui wait-text "#services-table [data-service=web]" passing 60 &&
	shot services &&
	ui type "#service-filter" nomatch &&
	ui wait-gone "#services-table [data-service=web]" 10 &&
	ui type "#service-filter" blue &&
	ui wait-count "#services-table [data-service=web]" 1 10
'

test_expect_success UI 'service page: a TTL check flips to critical without a reload' '
	ui go "$s1_HTTP/ui/#/service/web" &&
	ui wait-text "#instances [data-check=web-ttl]" passing 30 &&
	ui wait-text "#instances [data-check=web-ttl]" "all good" 10 &&
	ui js "window.notReloaded = 42; return 1" &&
	API_ADDR=$s1_HTTP api PUT "/v1/agent/check/fail/web-ttl?note=disk+on+fire" \
		-H "X-Consul-Token: $MASTER" &&
	expect_status 200 &&
	ui wait-text "#instances [data-check=web-ttl]" critical 30 &&
	ui wait-text "#instances [data-check=web-ttl]" "disk on fire" 10 &&
	ui js "return window.notReloaded" >mark &&
	echo 42 >expect && test_cmp expect mark &&
	shot service
'

test_expect_success UI 'a read-only token: listing tokens and saving a key show 403' '
	API_ADDR=$s1_HTTP api PUT /v1/acl/policy -H "X-Consul-Token: $MASTER" \
		-d "{\"Name\":\"ui-ro\",\"Rules\":\"key_prefix \\\"ro/\\\" { policy = \\\"read\\\" }\"}" &&
	expect_status 200 &&
	API_ADDR=$s1_HTTP api PUT /v1/acl/token -H "X-Consul-Token: $MASTER" \
		-d "{\"Policies\":[{\"Name\":\"ui-ro\"}]}" &&
	expect_status 200 && ro=$(json_get out "\$j->{SecretID}") &&
	proconsul kv put -http-addr="$s1_HTTP" -token="$MASTER" ro/k v1 &&
	ui go "$s1_HTTP/ui/#/acl" &&
	ui click "#logout" &&
	ui wait-text "#whoami" anonymous 10 &&
	ui type "#token" "$ro" &&
	ui click "#login-btn" &&
	ui wait-text "#acl-tokens" "Not allowed (403)" 30 &&
	ui wait-text "#acl-policies" "Not allowed (403)" 30 &&
	shot acl-read-only &&
	ui go "$s1_HTTP/ui/#/kv/ro/k" &&
	ui wait-text "#kv-meta" ModifyIndex 30 &&
	ui type "#kv-value" v2 &&
	ui click "#kv-save" &&
	ui wait-text "#banner" "Permission denied (403)" 30 &&
	shot kv-403 &&
	proconsul kv get -http-addr="$s1_HTTP" -token="$MASTER" ro/k >actual &&
	echo v1 >expect && test_cmp expect actual
'

# violations_are N: the page counted N Content-Security-Policy violations.
violations_are () {
	ui js "return window.cspViolations" >n &&
	echo "$1" >expect && test_cmp expect n
}

test_expect_success UI 'the pages caused no CSP violation; the browser enforces it' '
	for r in overview nodes services service/web kv/ro/ acl; do
		ui go "$s1_HTTP/ui/#/$r" &&
		ui wait-text "h1" "" 10 || return 1
	done &&
	violations_are 0 &&
	ui js "var s = document.createElement(\"script\"); s.textContent = \"window.inlineRan = 1\"; document.head.appendChild(s); return window.inlineRan === undefined" >r &&
	echo true >expect && test_cmp expect r &&
	poll_until 10 violations_are 1
'

test_expect_success UI 'screenshots of each page kept' '
	for p in anonymous-kv-403 acl overview nodes kv-key kv-folder services \
		service acl-read-only kv-403; do
		test_file_not_empty "$SHOTS/$p.png" || return 1
	done &&
	mkdir -p "$KEEP_SHOTS" &&
	cp "$SHOTS"/*.png "$KEEP_SHOTS"/
'

test_expect_success UI 'browser: session ends, chromedriver stops' '
	ui quit &&
	stop_driver
'

test_done
