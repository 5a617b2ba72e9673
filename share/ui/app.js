/* app.js - Proconsul web UI: plain JavaScript, no framework, no build.
 *
 * Hash routes: #/overview #/nodes #/services #/service/NAME #/kv/PATH
 * #/acl. Talks only to the public /v1/ API of the agent that served it,
 * sending the token of the ACL page (sessionStorage only) as
 * X-Consul-Token. Live pages run blocking queries (?index=&wait=) that
 * are aborted when the route changes. Data goes into the page through
 * textContent only, never as HTML.
 */
'use strict';

(function () {
    var TOKEN_KEY = 'proconsul.token';
    var WAIT = '30s';
    var gen = 0;            /* bumped on each route change */
    var aborts = [];        /* AbortControllers of the current route */
    var timers = [];

    function $(id) { return document.getElementById(id); }

    /* el('a', {href: '#/x', class: 'c'}, 'text', child...) */
    function el(tag, attrs) {
        var e = document.createElement(tag);
        var k, i, kid;
        for (k in attrs || {}) {
            if (k === 'class') e.className = attrs[k];
            else if (k === 'text') e.textContent = attrs[k];
            else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
            else if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
        }
        for (i = 2; i < arguments.length; i++) {
            kid = arguments[i];
            if (kid === null || kid === undefined) continue;
            e.appendChild(typeof kid === 'object' ? kid : document.createTextNode(String(kid)));
        }
        return e;
    }

    function badge(status) {
        var s = String(status || 'none').toLowerCase();
        return el('span', {class: 'badge st-' + s, 'data-status': s, text: s});
    }

    function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

    function banner(msg, info) {
        var b = $('banner');
        if (!msg) { b.hidden = true; b.textContent = ''; return; }
        b.hidden = false;
        b.className = info ? 'info' : '';
        b.textContent = msg;
    }

    /* A message for the next page: shown once the route changed. */
    var flashMsg = null;
    function flash(msg) { flashMsg = msg; }

    function ApiError(status, text) {
        this.status = status;
        this.message = status === 403
            ? 'Permission denied (403): ' + text + ' Log in on the ACL page with a token that allows it.'
            : 'Error ' + status + ': ' + text;
    }

    /* One request; resolves {status, data, index} for 2xx (and 404 when
     * allow404), rejects with an ApiError otherwise. */
    function api(method, path, body, allow404) {
        var ctl = new AbortController();
        var headers = {};
        var myGen = gen;
        if (token()) headers['X-Consul-Token'] = token();
        aborts.push(ctl);
        return fetch(path, {method: method, headers: headers, body: body,
                            signal: ctl.signal, cache: 'no-store'})
            .then(function (r) {
                return r.text().then(function (t) {
                    var data = t;
                    var at = aborts.indexOf(ctl);
                    if (at >= 0) aborts.splice(at, 1);
                    if (!r.ok && !(allow404 && r.status === 404))
                        throw new ApiError(r.status, t.trim());
                    try { data = t === '' ? null : JSON.parse(t); } catch (e) { data = t; }
                    return {status: r.status, data: r.status === 404 ? null : data,
                            index: Number(r.headers.get('X-Consul-Index')) || 0};
                });
            });
    }

    function sleep(ms) {
        return new Promise(function (res) { timers.push(setTimeout(res, ms)); });
    }

    function fail(e) {
        if (e && e.name === 'AbortError') return;
        banner(e && e.message ? e.message : String(e));
    }

    /* Blocking-query loop on path: onData(data) on the first answer and
     * on each change of X-Consul-Index, until the route changes. */
    function watch(path, onData, allow404) {
        var myGen = gen, index = 0;
        var sep = path.indexOf('?') >= 0 ? '&' : '?';
        function loop() {
            if (myGen !== gen) return;
            var p = index ? path + sep + 'index=' + index + '&wait=' + WAIT : path;
            api('GET', p, undefined, allow404).then(function (r) {
                if (myGen !== gen) return;
                var changed = index === 0 || r.index !== index;
                index = r.index < index ? 0 : r.index;
                if (changed) return Promise.resolve(onData(r.data));
            }).then(loop, function (e) {
                /* the query or what onData fetched failed: say so, retry */
                if (myGen !== gen || (e && e.name === 'AbortError')) return;
                fail(e);
                index = 0;
                sleep(2000).then(loop);
            });
        }
        loop();
    }

    /* Re-run fn every ms (gossip state has no Raft index to block on). */
    function every(ms, fn) {
        var myGen = gen;
        function tick() {
            if (myGen !== gen) return;
            Promise.resolve(fn()).catch(fail).then(function () {
                if (myGen === gen) sleep(ms).then(tick);
            });
        }
        tick();
    }

    function table(heads, rows, id) {
        var thead = el('tr');
        heads.forEach(function (h) { thead.appendChild(el('th', {text: h})); });
        var t = el('table', {id: id}, el('thead', null, thead));
        var tb = el('tbody');
        rows.forEach(function (r) { tb.appendChild(r); });
        t.appendChild(tb);
        return t;
    }

    function tr(cells, attrs) {
        var r = el('tr', attrs);
        cells.forEach(function (c) {
            r.appendChild(c instanceof Node ? el('td', null, c) : el('td', {text: c}));
        });
        return r;
    }

    function page(title) {
        var m = $('main');
        m.textContent = '';
        m.appendChild(el('h1', {text: title}));
        return m;
    }

    function section(m, id) {
        var s = el('div', {id: id});
        m.appendChild(s);
        return s;
    }

    function fill(node) {
        node.textContent = '';
        for (var i = 1; i < arguments.length; i++)
            if (arguments[i]) node.appendChild(arguments[i]);
    }

    function memberStatus(m) {
        return ({1: 'alive', 2: 'leaving', 3: 'left', 4: 'failed'})[m.Status] || 'none';
    }

    function isServer(m) { return m.Tags && m.Tags.role === 'consul'; }

    function leaderOf(m, leader) {
        return isServer(m) && leader === m.Addr + ':' + (m.Tags.port || '8300');
    }

    /* ---- overview ---- */

    function card(label, value, id) {
        return el('div', {class: 'card', id: id},
                  el('div', {class: 'label', text: label}),
                  el('div', {class: 'value', text: value}));
    }

    function overview() {
        var m = page('Cluster overview');
        var cards = section(m, 'overview-cards');
        var mem = section(m, 'overview-members');
        var chk = section(m, 'overview-checks');
        var state = {checks: null};

        function refresh() {
            return Promise.all([
                api('GET', '/v1/status/leader'),
                api('GET', '/v1/agent/self').catch(function (e) {
                    if (e.status === 403) return {data: null};
                    throw e;
                }),
                api('GET', '/v1/agent/members')
            ]).then(function (rs) {
                var leader = rs[0].data || '', self = rs[1].data;
                var raft = self && self.Stats && self.Stats.raft || {};
                var members = rs[2].data || [];
                var by = {alive: 0, leaving: 0, left: 0, failed: 0};
                members.forEach(function (x) { by[memberStatus(x)] = (by[memberStatus(x)] || 0) + 1; });
                fill(cards, el('div', {class: 'cards'},
                    card('Leader', leader || 'none', 'card-leader'),
                    card('Raft term', raft.term || '—', 'card-term'),
                    card('Commit index', raft.commit_index || '—', 'card-commit'),
                    card('Alive', by.alive, 'card-alive'),
                    card('Failed', by.failed, 'card-failed'),
                    card('Left', by.left + by.leaving, 'card-left')));
                fill(mem, el('h2', {text: 'Members by status'}),
                     table(['Node', 'Address', 'Role', 'Status'],
                           members.map(function (x) {
                               return tr([x.Name, x.Addr,
                                          isServer(x) ? (leaderOf(x, leader) ? 'server (leader)' : 'server') : 'client',
                                          badge(memberStatus(x))], {'data-node': x.Name});
                           }), 'members'));
            });
        }
        every(5000, refresh);
        watch('/v1/health/state/any', function (checks) {
            var by = {passing: 0, warning: 0, critical: 0};
            (checks || []).forEach(function (c) { by[c.Status] = (by[c.Status] || 0) + 1; });
            state.checks = by;
            fill(chk, el('h2', {text: 'Health checks'}), el('div', {class: 'cards'},
                card('Passing', by.passing, 'card-passing'),
                card('Warning', by.warning, 'card-warning'),
                card('Critical', by.critical, 'card-critical')));
            return refresh();
        });
    }

    /* ---- nodes ---- */

    function nodes() {
        var m = page('Nodes');
        var out = section(m, 'nodes');
        every(5000, function () {
            return Promise.all([
                api('GET', '/v1/status/leader'),
                api('GET', '/v1/agent/members'),
                api('GET', '/v1/operator/autopilot/health').catch(function () { return {data: null}; })
            ]).then(function (rs) {
                var leader = rs[0].data || '', members = rs[1].data || [];
                var idx = {};
                ((rs[2].data && rs[2].data.Servers) || []).forEach(function (s) { idx[s.Name] = s.LastIndex; });
                members.sort(function (a, b) { return a.Name < b.Name ? -1 : 1; });
                fill(out, table(['Node', 'Address', 'Status', 'Type', 'Leader', 'Raft index', 'Datacenter'],
                    members.map(function (x) {
                        var lead = leaderOf(x, leader);
                        return tr([x.Name, x.Addr, badge(memberStatus(x)),
                                   isServer(x) ? 'server' : 'client',
                                   lead ? el('span', {class: 'badge leader', text: 'leader'}) : '',
                                   idx[x.Name] !== undefined ? String(idx[x.Name]) : '—',
                                   (x.Tags && x.Tags.dc) || ''],
                                  {'data-node': x.Name, 'data-leader': lead ? 'true' : 'false'});
                    }), 'nodes-table'));
            });
        });
    }

    /* ---- services ---- */

    var ORDER = {passing: 0, warning: 1, critical: 2};
    function worst(checks) {
        var w = 'passing';
        (checks || []).forEach(function (c) {
            if ((ORDER[c.Status] || 0) > ORDER[w]) w = c.Status;
        });
        return checks && checks.length ? w : 'none';
    }

    function services() {
        var m = page('Services');
        var f = el('input', {type: 'text', id: 'service-filter', placeholder: 'filter by name or tag'});
        var s = el('select', {id: 'service-status'});
        ['any', 'passing', 'warning', 'critical'].forEach(function (x) {
            s.appendChild(el('option', {value: x, text: x}));
        });
        m.appendChild(el('div', {class: 'filter'}, f, ' status ', s));
        var out = section(m, 'services');
        var rows = [];
        function render() {
            var q = f.value.toLowerCase(), st = s.value;
            fill(out, table(['Service', 'Instances', 'Tags', 'Health'],
                rows.filter(function (r) {
                    return (!q || r.name.toLowerCase().indexOf(q) >= 0 ||
                            r.tags.join(' ').toLowerCase().indexOf(q) >= 0) &&
                        (st === 'any' || r.status === st);
                }).map(function (r) {
                    return tr([el('a', {href: '#/service/' + encodeURIComponent(r.name), text: r.name}),
                               String(r.n), r.tags.join(', '), badge(r.status)],
                              {'data-service': r.name});
                }), 'services-table'));
        }
        f.addEventListener('input', render);
        s.addEventListener('change', render);
        watch('/v1/health/state/any', function () {
            return api('GET', '/v1/catalog/services').then(function (r) {
                var names = Object.keys(r.data || {}).sort();
                return Promise.all(names.map(function (n) {
                    return api('GET', '/v1/health/service/' + encodeURIComponent(n));
                })).then(function (hs) {
                    rows = names.map(function (n, i) {
                        var all = [];
                        (hs[i].data || []).forEach(function (e) { all = all.concat(e.Checks || []); });
                        return {name: n, n: (hs[i].data || []).length, tags: r.data[n] || [],
                                status: worst(all)};
                    });
                    render();
                });
            });
        });
    }

    function service(name) {
        var m = page('Service ' + name);
        var out = section(m, 'service');
        watch('/v1/health/service/' + encodeURIComponent(name), function (list) {
            var rows = [];
            (list || []).forEach(function (e) {
                var svc = e.Service || {}, checks = e.Checks || [];
                var cl = el('div');
                checks.forEach(function (c) {
                    cl.appendChild(el('div', {class: 'check', 'data-check': c.CheckID},
                        badge(c.Status), ' ', c.Name + ' (' + c.CheckID + ')',
                        c.Output ? el('pre', {class: 'output', text: c.Output}) : null));
                });
                rows.push(tr([svc.ID, (e.Node && e.Node.Node) || '',
                              (svc.Address || (e.Node && e.Node.Address) || '') + ':' + svc.Port,
                              (svc.Tags || []).join(', '), badge(worst(checks)), cl],
                             {'data-instance': svc.ID}));
            });
            fill(out, rows.length ? table(['Instance', 'Node', 'Address', 'Tags', 'Health', 'Checks'], rows, 'instances')
                                  : el('p', {class: 'muted', text: 'No instance of this service.'}));
        });
    }

    /* ---- key/value ---- */

    function encKey(k) { return k.split('/').map(encodeURIComponent).join('/'); }

    function b64decode(s) {
        if (!s) return '';
        var bin = atob(s), bytes = new Uint8Array(bin.length);
        for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        return new TextDecoder().decode(bytes);
    }

    function crumbs(path) {
        var c = el('div', {class: 'crumbs'}, el('a', {href: '#/kv/', text: '(root)'}));
        var parts = path.split('/'), acc = '';
        for (var i = 0; i < parts.length - 1; i++) {
            acc += parts[i] + '/';
            c.appendChild(document.createTextNode(' / '));
            c.appendChild(el('a', {href: '#/kv/' + encKey(acc), text: parts[i]}));
        }
        return c;
    }

    function flagsOk(v) { return /^[0-9]{0,20}$/.test(v); }

    function kvFolder(prefix) {
        var m = page('Key/Value');
        m.appendChild(crumbs(prefix));
        var out = section(m, 'kv-list');
        api('GET', '/v1/kv/' + encKey(prefix) + '?keys&separator=/', undefined, true).then(function (r) {
            var keys = (r.data || []).filter(function (k) { return k !== prefix; });
            fill(out, keys.length
                ? table(['Key'], keys.map(function (k) {
                    return tr([el('a', {href: '#/kv/' + encKey(k), text: k.slice(prefix.length)})], {'data-key': k});
                }), 'kv-keys')
                : el('p', {class: 'muted', text: 'No keys under this prefix.'}));
        }).catch(fail);
        var name = el('input', {type: 'text', id: 'kv-new-key', placeholder: 'key (a trailing / makes a folder)'});
        var val = el('textarea', {id: 'kv-new-value'});
        var flags = el('input', {type: 'number', id: 'kv-new-flags', value: '0', min: '0'});
        var form = el('form', {class: 'kv', id: 'kv-create'},
            el('h2', {text: 'Create'}),
            el('label', {for: 'kv-new-key', text: 'Key' + (prefix ? ' under ' + prefix : '')}), name,
            el('label', {for: 'kv-new-value', text: 'Value'}), val,
            el('label', {for: 'kv-new-flags', text: 'Flags'}), flags,
            el('div', null, el('button', {type: 'submit', class: 'primary', id: 'kv-create-btn', text: 'Create'})));
        form.addEventListener('submit', function (ev) {
            ev.preventDefault();
            var key = prefix + name.value;
            if (!name.value) { banner('The key is empty.'); return; }
            if (!flagsOk(flags.value)) { banner('Flags must be an unsigned integer.'); return; }
            api('PUT', '/v1/kv/' + encKey(key) + '?cas=0&flags=' + (flags.value || '0'),
                key.slice(-1) === '/' ? '' : val.value).then(function (r) {
                if (r.data !== true) { banner('Key "' + key + '" already exists.'); return; }
                flash('Created ' + key);
                location.hash = '#/kv/' + encKey(key);
            }).catch(fail);
        });
        m.appendChild(form);
    }

    function kvKey(key) {
        var m = page('Key/Value');
        m.appendChild(crumbs(key));
        var out = section(m, 'kv-entry');
        api('GET', '/v1/kv/' + encKey(key), undefined, true).then(function (r) {
            if (!r.data || !r.data.length) {
                fill(out, el('p', {class: 'muted', id: 'kv-missing', text: 'Key "' + key + '" does not exist.'}));
                return;
            }
            var e = r.data[0];
            var val = el('textarea', {id: 'kv-value'});
            val.value = b64decode(e.Value);
            var flags = el('input', {type: 'number', id: 'kv-flags', min: '0', value: String(e.Flags || 0)});
            var form = el('form', {class: 'kv', id: 'kv-edit'},
                el('h2', {text: key}),
                el('p', {class: 'muted', id: 'kv-meta',
                         text: 'ModifyIndex ' + e.ModifyIndex + ', CreateIndex ' + e.CreateIndex +
                               (e.Session ? ', locked by session ' + e.Session : '')}),
                el('label', {for: 'kv-value', text: 'Value'}), val,
                el('label', {for: 'kv-flags', text: 'Flags'}), flags,
                el('div', null,
                   el('button', {type: 'submit', class: 'primary', id: 'kv-save', text: 'Save'}),
                   el('button', {type: 'button', class: 'danger', id: 'kv-delete', text: 'Delete',
                                 onclick: function () {
                                     api('DELETE', '/v1/kv/' + encKey(key) + '?cas=' + e.ModifyIndex).then(function (d) {
                                         if (d.data !== true) { banner('Not deleted: "' + key + '" changed since it was loaded; reload.'); return; }
                                         flash('Deleted ' + key);
                                         location.hash = '#/kv/' + encKey(key.replace(/[^/]*$/, ''));
                                     }).catch(fail);
                                 }})));
            form.addEventListener('submit', function (ev) {
                ev.preventDefault();
                if (!flagsOk(flags.value)) { banner('Flags must be an unsigned integer.'); return; }
                api('PUT', '/v1/kv/' + encKey(key) + '?cas=' + e.ModifyIndex + '&flags=' + (flags.value || '0'),
                    val.value).then(function (p) {
                    if (p.data !== true) {
                        banner('Not saved: "' + key + '" was changed by someone else since it was loaded (CAS ' + e.ModifyIndex + '); reload to see it.');
                        return;
                    }
                    banner('Saved ' + key, true);
                    kvKey(key);
                }).catch(fail);
            });
            fill(out, form);
        }).catch(fail);
    }

    function kv(path) {
        if (path === '' || path.slice(-1) === '/') kvFolder(path);
        else kvKey(path);
    }

    /* ---- ACL ---- */

    function whoami() {
        $('whoami').textContent = token() ? 'token set' : 'anonymous';
    }

    function aclList(m, title, path, id, heads, row) {
        var s = section(m, id);
        fill(s, el('h2', {text: title}));
        api('GET', path).then(function (r) {
            s.appendChild(table(heads, (r.data || []).map(row), id + '-table'));
        }, function (e) {
            s.appendChild(el('p', {class: 'denied', text: e.status === 403
                ? 'Not allowed (403): this token may not list ' + title.toLowerCase() + ' (needs acl:read).'
                : e.message}));
        });
    }

    function acl() {
        var m = page('ACL');
        if (!token()) {
            var inp = el('input', {type: 'password', id: 'token', autocomplete: 'off'});
            var form = el('form', {class: 'login', id: 'login'},
                el('label', {for: 'token', text: 'Token (SecretID)'}), inp,
                el('div', null, el('button', {type: 'submit', class: 'primary', id: 'login-btn', text: 'Log in'})),
                el('p', {class: 'muted', text: 'The token stays in this tab\'s session storage and is sent as X-Consul-Token.'}));
            form.addEventListener('submit', function (ev) {
                ev.preventDefault();
                sessionStorage.setItem(TOKEN_KEY, inp.value.trim());
                api('GET', '/v1/acl/token/self').then(function () {
                    banner('Logged in.', true);
                    whoami();
                    acl();
                }, function (e) {
                    sessionStorage.removeItem(TOKEN_KEY);
                    whoami();
                    fail(e.status === 403 ? {message: 'Login failed (403): the token was not found or is not allowed.'} : e);
                });
            });
            m.appendChild(form);
            return;
        }
        var me = section(m, 'acl-self');
        api('GET', '/v1/acl/token/self').then(function (r) {
            var t = r.data || {};
            fill(me, table(['AccessorID', 'Description', 'Policies'], [
                tr([t.AccessorID || '', t.Description || '',
                    (t.Policies || []).map(function (p) { return p.Name; }).join(', ')])], 'acl-self-table'));
        }).catch(fail);
        m.appendChild(el('button', {type: 'button', id: 'logout', text: 'Log out', onclick: function () {
            sessionStorage.removeItem(TOKEN_KEY);
            whoami();
            banner('Logged out.', true);
            acl();
        }}));
        aclList(m, 'Tokens', '/v1/acl/tokens', 'acl-tokens', ['AccessorID', 'Description', 'Policies', 'Local'],
            function (t) {
                return tr([t.AccessorID, t.Description || '',
                           (t.Policies || []).map(function (p) { return p.Name; }).join(', '),
                           t.Local ? 'yes' : 'no'], {'data-accessor': t.AccessorID});
            });
        aclList(m, 'Policies', '/v1/acl/policies', 'acl-policies', ['Name', 'ID', 'Description'],
            function (p) { return tr([p.Name, p.ID, p.Description || ''], {'data-policy': p.Name}); });
    }

    /* ---- router ---- */

    function route() {
        var h = location.hash.replace(/^#\/?/, '');
        var i = h.indexOf('/');
        var head = i < 0 ? h : h.slice(0, i), rest = i < 0 ? '' : h.slice(i + 1);
        gen++;
        aborts.forEach(function (c) { c.abort(); });
        aborts = [];
        timers.forEach(clearTimeout);
        timers = [];
        banner(flashMsg || '', true);
        flashMsg = null;
        whoami();
        document.querySelectorAll('header nav a').forEach(function (a) {
            a.classList.toggle('active', a.id === 'nav-' + (head === 'service' ? 'services' : head || 'overview'));
        });
        try { rest = decodeURIComponent(rest); } catch (e) { /* keep it raw */ }
        switch (head) {
        case 'nodes': return nodes();
        case 'services': return services();
        case 'service': return service(rest);
        case 'kv': return kv(rest);
        case 'acl': return acl();
        default: return overview();
        }
    }

    /* counted for the tests (t8301): the page itself must cause none */
    window.cspViolations = 0;
    document.addEventListener('securitypolicyviolation', function () {
        window.cspViolations++;
    });
    window.addEventListener('hashchange', route);
    window.addEventListener('DOMContentLoaded', route);
})();
