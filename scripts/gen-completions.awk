# gen-completions.awk - render the command table of gen-completions.sh.
#
# awk -v shell=bash|zsh -f gen-completions.awk TABLE TEMPLATE
# TABLE: the records gen-completions.sh collected (tab-separated):
#   V path verb summary     (path "" lists the commands)
#   F path flag placeholder section description
#   U path usage-tail       T path token-type      X flag value...
# TEMPLATE is copied through, with the line "@DATA@" replaced by the
# generated tables (shell functions that set REPLY/reply).

function sq(s) { gsub(/'/, "'\\''", s); return "'" s "'" }

# zsh _arguments/_describe text: no brackets or colons, first sentence.
function zdesc(s) {
    sub(/\. .*/, "", s); sub(/\.$/, "", s)
    gsub(/[][]/, "", s); gsub(/:/, "\\:", s)
    if (length(s) > 70) s = substr(s, 1, 67) "..."
    return s
}

# The kind of value a flag takes: dir, file, "words a b", or "".
function flagkind(f, ph, d,    w, n, i, a, r) {
    if (ph == "dir" || d ~ /^Path to a (data )?directory/ ||
        (ph == "path" && f ~ /-dir$/))
        return "dir"
    if (ph ~ /^(file|path)$/ || d ~ /^(Path to|File holding)/)
        return "file"
    if (ph ~ /\|/) { w = ph; gsub(/\|/, " ", w); return "words " w }
    if (match(d, /\{[a-z|-]+\}/)) {
        w = substr(d, RSTART + 1, RLENGTH - 2); gsub(/\|/, " ", w)
        return "words " w
    }
    if (match(d, /^[A-Z][A-Za-z ]*: [a-z-]+(, [a-z-]+)+\.?/)) {
        w = substr(d, RSTART, RLENGTH); sub(/^[^:]*: /, "", w)
        sub(/\.$/, "", w); gsub(/, /, " ", w)
        return "words " w
    }
    return ""
}

# The positional arguments of a leaf: file, kvkey, help, "words ...", "".
function argkind(p,    u) {
    if (p == "help") return "help"
    if (p in types) return "words" types[p]
    u = usage[p]
    if (u ~ /FILE/) return "file"
    if (p ~ /^kv / && u ~ /KEY/) return "kvkey"
    return ""
}

BEGIN { FS = "\t" }
FNR == NR {
    if ($1 == "V") {
        p = ($2 == "" ? $3 : $2 " " $3)
        verbs[$2] = verbs[$2] (verbs[$2] == "" ? "" : " ") $3
        vsum[$2, $3] = $4
        if (!(p in isp)) { isp[p] = 1; paths[++np] = p }
    } else if ($1 == "F") {
        flags[$2] = flags[$2] (flags[$2] == "" ? "" : " ") $3
        fph[$2, $3] = $4; fdesc[$2, $3] = $6
        if ($5 == "H" && $2 == "kv get") conn = conn " " $3
        k = flagkind($3, $4, $6)
        if (k != "" && !($3 in kind)) { kind[$3] = k; kinds[++nk] = $3 }
        rep[$2, $3] = ($6 ~ /more than once|Repeatable/)
    } else if ($1 == "U") {
        usage[$2] = $3
    } else if ($1 == "T") {
        types[$2] = types[$2] " " $3
    } else if ($1 == "X") {
        n = split($2, a, " ")
        if (!(a[1] in kind)) kinds[++nk] = a[1]
        kind[a[1]] = "words"
        for (i = 2; i <= n; i++) kind[a[1]] = kind[a[1]] " " a[i]
    }
    next
}
$0 == "@DATA@" { if (shell == "zsh") zsh_data(); else bash_data(); next }
{ print }

function bash_data(    i, p, s, k, arm, order, na, j, keys) {
    bash_wrap("_proconsul_cmds=", verbs[""], 1)
    bash_wrap("_proconsul_conn_flags=", conn, 1)
    print ""
    print "# _proconsul_verbs PATH: the verbs under PATH (\"acl token\") in REPLY."
    print "_proconsul_verbs() {"
    print "    case $1 in"
    for (i = 1; i <= np; i++)
        if (paths[i] in verbs)
            printf "    %s) REPLY=%s ;;\n", sq(paths[i]), sq(verbs[paths[i]])
    print "    *) REPLY= ;;"
    print "    esac"
    print "}"
    print ""
    print "# _proconsul_flags PATH: its flags in REPLY; \"-name=\" takes a value."
    print "_proconsul_flags() {"
    print "    case $1 in"
    # One arm per distinct flag list, in the order the paths came.
    na = 0
    for (i = 1; i <= np; i++) {
        p = paths[i]
        if (!(p in flags)) continue
        s = ""
        n = split(flags[p], f, " ")
        for (j = 1; j <= n; j++)
            s = s (j > 1 ? " " : "") f[j] (fph[p, f[j]] != "" ? "=" : "")
        if (!(s in arm)) { order[++na] = s; arm[s] = sq(p) }
        else arm[s] = arm[s] " | " sq(p)
    }
    for (i = 1; i <= na; i++) {
        arm_wrap("    ", arm[order[i]])
        bash_wrap("        REPLY=", order[i])
    }
    print "    *) REPLY= ;;"
    print "    esac"
    print "}"
    print ""
    print "# _proconsul_args PATH: what its positional arguments are in REPLY:"
    print "# file, kvkey, help, \"words W...\" or nothing."
    print "_proconsul_args() {"
    print "    case $1 in"
    delete arm; delete order; na = 0
    for (i = 1; i <= np; i++) {
        p = paths[i]
        if (p in verbs) continue
        k = argkind(p)
        if (k == "") continue
        if (!(k in arm)) { order[++na] = k; arm[k] = sq(p) }
        else arm[k] = arm[k] " | " sq(p)
    }
    for (i = 1; i <= na; i++) {
        arm_wrap("    ", arm[order[i]])
        bash_wrap("        REPLY=", order[i])
    }
    print "    *) REPLY= ;;"
    print "    esac"
    print "}"
    print ""
    print "# _proconsul_value FLAG: what FLAG's value is in REPLY (as above)."
    print "_proconsul_value() {"
    print "    case $1 in"
    delete arm; delete order; na = 0
    for (i = 1; i <= nk; i++) {
        k = kind[kinds[i]]
        if (!(k in arm)) { order[++na] = k; arm[k] = kinds[i] }
        else arm[k] = arm[k] " | " kinds[i]
    }
    for (i = 1; i <= na; i++) {
        arm_wrap("    ", arm[order[i]])
        bash_wrap("        REPLY=", order[i])
    }
    print "    *) REPLY= ;;"
    print "    esac"
    print "}"
}

# arm_wrap INDENT "P1 | P2 | ...": a case arm's patterns, folded with
# backslashes at 79 columns.
function arm_wrap(ind, s,    n, w, i, line) {
    n = split(s, w, / \| /)
    line = ind w[1]
    for (i = 2; i <= n; i++) {
        if (length(line) + length(w[i]) + 4 > 77) {
            print line " | \\"
            line = ind "    " w[i]
        } else line = line " | " w[i]
    }
    print line ")"
}

# bash_wrap PREFIX WORDS: PREFIX'WORDS' ;; folded at 79 columns.
function bash_wrap(pre, s, bare,    n, w, i, line, ind) {
    n = split(s, w, " ")
    line = pre "'"
    ind = bare ? "    " : "            "
    for (i = 1; i <= n; i++) {
        if (length(line) + length(w[i]) + 1 > 76 && line !~ /'$/) {
            print line
            line = ind
        } else if (line !~ /'$/) line = line " "
        line = line w[i]
    }
    print line (bare ? "'" : "' ;;")
}

function zspec(p, f,    ph, k, act, s) {
    ph = fph[p, f]
    s = (rep[p, f] ? "'*" : "'") f
    if (ph == "")
        return s "[" zq(zdesc(fdesc[p, f])) "]'"
    k = (f in kind) ? kind[f] : ""
    if (k == "dir") act = "_files -/"
    else if (k == "file") act = "_files"
    else if (k ~ /^words /) act = "(" substr(k, 7) ")"
    else act = ""
    if (ph == "value" || ph == "string") { ph = f; sub(/^-/, "", ph) }
    return s "=[" zq(zdesc(fdesc[p, f])) "]:" ph ":" act "'"
}

function zq(s) { gsub(/'/, "'\\''", s); return s }

function zsh_data(    i, j, n, p, f, k, arm, order, na, s, v) {
    print "# _proconsul_verbs PATH: \"verb:summary\" of the verbs under PATH in reply."
    print "_proconsul_verbs() {"
    print "  case $1 in"
    for (i = 0; i <= np; i++) {
        p = (i == 0 ? "" : paths[i])
        if (!(p in verbs)) continue
        printf "  %s)\n    reply=(\n", sq(p)
        n = split(verbs[p], v, " ")
        for (j = 1; j <= n; j++)
            printf "      %s\n", sq(v[j] ":" zdesc(vsum[p, v[j]]))
        print "    ) ;;"
    }
    print "  *) reply=() ;;"
    print "  esac"
    print "}"
    print ""
    print "# _proconsul_specs PATH: _arguments specs of its flags in reply."
    print "_proconsul_specs() {"
    print "  case $1 in"
    na = 0
    for (i = 1; i <= np; i++) {
        p = paths[i]
        if (!(p in flags)) continue
        s = ""
        n = split(flags[p], f, " ")
        for (j = 1; j <= n; j++) s = s "      " zspec(p, f[j]) "\n"
        if (!(s in arm)) { order[++na] = s; arm[s] = sq(p) }
        else arm[s] = arm[s] " | " sq(p)
    }
    for (i = 1; i <= na; i++)
        printf "  %s)\n    reply=(\n%s    ) ;;\n", arm[order[i]], order[i]
    print "  *) reply=() ;;"
    print "  esac"
    print "}"
    print ""
    print "# _proconsul_args PATH: file, kvkey, help, \"words W...\" or nothing."
    print "_proconsul_args() {"
    print "  case $1 in"
    delete arm; delete order; na = 0
    for (i = 1; i <= np; i++) {
        p = paths[i]
        if (p in verbs) continue
        k = argkind(p)
        if (k == "") continue
        if (!(k in arm)) { order[++na] = k; arm[k] = sq(p) }
        else arm[k] = arm[k] " | " sq(p)
    }
    for (i = 1; i <= na; i++)
        printf "  %s)\n    REPLY=%s ;;\n", arm[order[i]], sq(order[i])
    print "  *) REPLY= ;;"
    print "  esac"
    print "}"
    print ""
    print "_proconsul_conn_flags=(" substr(conn, 2) ")"
}
