# proconsul.bash - bash completion for proconsul and its "consul" alias.
#
# Install: source this file, or copy it to
# /usr/share/bash-completion/completions/proconsul (and link it as
# "consul"). Completes commands, "acl", "kv", "operator", "services" and
# "snapshot" verbs and each command's flags;
# flags that take a path complete file names ("-flag path" and
# "-flag=path").

_proconsul_http_flags="-http-addr= -token= -token-file= -datacenter= -stale
    -ca-file= -ca-path= -client-cert= -client-key= -tls-server-name="

_proconsul_tok_links="-description= -policy-id= -policy-name= -role-id=
    -role-name= -service-identity= -node-identity="

_proconsul_flags() {
    case "$1" in
    "acl bootstrap")
        echo "-format= $_proconsul_http_flags"
        ;;
    "acl set-agent-token")
        echo "$_proconsul_http_flags"
        ;;
    "acl token create")
        echo "$_proconsul_tok_links -accessor= -secret= -local -expires-ttl=
            -format= -meta $_proconsul_http_flags"
        ;;
    "acl token read")
        echo "-accessor-id= -id= -self -expanded -format= -meta
            $_proconsul_http_flags"
        ;;
    "acl token update")
        echo "-accessor-id= -id= $_proconsul_tok_links -append-policy-id=
            -append-policy-name= -append-role-id= -append-role-name=
            -append-service-identity= -append-node-identity=
            -merge-policies -merge-roles -merge-service-identities
            -merge-node-identities -format= -meta $_proconsul_http_flags"
        ;;
    "acl token clone")
        echo "-accessor-id= -id= -description= -format=
            $_proconsul_http_flags"
        ;;
    "acl token delete")
        echo "-accessor-id= -id= $_proconsul_http_flags"
        ;;
    "acl token list" | "acl policy list" | "acl role list")
        echo "-format= -meta $_proconsul_http_flags"
        ;;
    "acl policy create")
        echo "-name= -description= -rules= -valid-datacenter= -format= -meta
            $_proconsul_http_flags"
        ;;
    "acl policy read" | "acl role read")
        echo "-id= -name= -format= -meta $_proconsul_http_flags"
        ;;
    "acl policy update")
        echo "-id= -name= -description= -rules= -valid-datacenter= -no-merge
            -format= -meta $_proconsul_http_flags"
        ;;
    "acl policy delete" | "acl role delete")
        echo "-id= -name= $_proconsul_http_flags"
        ;;
    "acl role create")
        echo "-name= -description= -policy-id= -policy-name=
            -service-identity= -node-identity= -format= -meta
            $_proconsul_http_flags"
        ;;
    "acl role update")
        echo "-id= -name= -description= -policy-id= -policy-name=
            -service-identity= -node-identity= -no-merge -format= -meta
            $_proconsul_http_flags"
        ;;
    agent)
        echo "-server -bootstrap -bootstrap-expect= -node= -node-id=
            -datacenter= -bind= -client= -advertise= -data-dir= -http-port=
            -dns-port= -server-port= -serf-lan-port= -serf-wan-port= -ui
            -config-file= -config-dir= -hcl= -pid-file= -log-level=
            -retry-join= -join= -dev -encrypt="
        ;;
    "kv get")
        echo "-base64 -detailed -keys -recurse -separator=
            $_proconsul_http_flags"
        ;;
    "kv put")
        echo "-acquire -base64 -cas -flags= -modify-index= -release -session=
            $_proconsul_http_flags"
        ;;
    "kv delete")
        echo "-cas -modify-index= -recurse $_proconsul_http_flags"
        ;;
    force-leave)
        echo "-prune $_proconsul_http_flags"
        ;;
    join)
        echo "-wan $_proconsul_http_flags"
        ;;
    leave)
        echo "$_proconsul_http_flags"
        ;;
    members)
        echo "-detailed -segment= -status= -wan $_proconsul_http_flags"
        ;;
    "operator raft list-peers" | "operator autopilot get-config")
        echo "$_proconsul_http_flags"
        ;;
    "operator raft remove-peer")
        echo "-address= -id= $_proconsul_http_flags"
        ;;
    "operator raft transfer-leader")
        echo "-id= $_proconsul_http_flags"
        ;;
    "operator raft recover")
        echo "-data-dir= -servers= -dry-run"
        ;;
    "operator autopilot set-config")
        echo "-cleanup-dead-servers= -last-contact-threshold=
            -max-trailing-logs= -min-quorum= -server-stabilization-time=
            $_proconsul_http_flags"
        ;;
    "operator autopilot state")
        echo "-format= $_proconsul_http_flags"
        ;;
    "services register")
        echo "-address= -id= -kind= -meta= -name= -port= -socket= -tag=
            -tagged-address= $_proconsul_http_flags"
        ;;
    "services deregister")
        echo "-id= $_proconsul_http_flags"
        ;;
    "snapshot save")
        echo "-dir= -keep= $_proconsul_http_flags"
        ;;
    "snapshot restore")
        echo "$_proconsul_http_flags"
        ;;
    "snapshot inspect")
        echo "-format="
        ;;
    version)
        echo "-format="
        ;;
    esac
}

# Flags whose value is a path.
_proconsul_is_path_flag() {
    case "$1" in
    -config-file | -config-dir | -data-dir | -pid-file | -token-file | \
        -ca-file | -ca-path | -client-cert | -client-key | -dir)
        return 0 ;;
    esac
    return 1
}

_proconsul() {
    local cur prev cmd="" verb="" sub="" i w words
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD - 1]}"

    # bash splits "-flag=value" at '=' by default (COMP_WORDBREAKS).
    if [ "$cur" = "=" ]; then
        prev="${COMP_WORDS[COMP_CWORD - 1]}"
        cur=""
    elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -ge 2 ]; then
        prev="${COMP_WORDS[COMP_CWORD - 2]}"
    fi
    if _proconsul_is_path_flag "$prev"; then
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
    fi
    case "$prev" in
    -format) COMPREPLY=($(compgen -W "pretty json" -- "$cur")); return 0 ;;
    -status)
        COMPREPLY=($(compgen -W "alive leaving left failed" -- "$cur"))
        return 0 ;;
    -log-level)
        COMPREPLY=($(compgen -W "trace debug info warn error" -- "$cur"))
        return 0 ;;
    -cleanup-dead-servers)
        COMPREPLY=($(compgen -W "true false" -- "$cur"))
        return 0 ;;
    esac

    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        case "$w" in -*) continue ;; esac
        if [ -z "$cmd" ]; then
            cmd="$w"
        elif { [ "$cmd" = acl ] || [ "$cmd" = kv ] ||
            [ "$cmd" = operator ] || [ "$cmd" = services ] ||
            [ "$cmd" = snapshot ]; } &&
            [ -z "$verb" ]; then
            verb="$w"
        elif { [ "$cmd" = operator ] || [ "$cmd" = acl ]; } &&
            [ -z "$sub" ]; then
            sub="$w"
        fi
    done

    if [ -z "$cmd" ]; then
        COMPREPLY=($(compgen -W "acl agent force-leave help join kv leave
            members operator services snapshot version --help --version" \
            -- "$cur"))
        return 0
    fi
    case "$cmd" in
    help)
        if [ "$COMP_CWORD" -eq 2 ]; then
            COMPREPLY=($(compgen -W "acl agent force-leave help join kv leave
                members operator services snapshot version" -- "$cur"))
        elif [ "${COMP_WORDS[2]}" = acl ] && [ "$COMP_CWORD" -eq 3 ]; then
            COMPREPLY=($(compgen -W "bootstrap policy role set-agent-token
                token" -- "$cur"))
        elif [ "${COMP_WORDS[2]}" = kv ] && [ "$COMP_CWORD" -eq 3 ]; then
            COMPREPLY=($(compgen -W "get put delete" -- "$cur"))
        elif [ "${COMP_WORDS[2]}" = operator ] && [ "$COMP_CWORD" -eq 3 ]; then
            COMPREPLY=($(compgen -W "autopilot raft" -- "$cur"))
        elif [ "${COMP_WORDS[2]}" = services ] && [ "$COMP_CWORD" -eq 3 ]; then
            COMPREPLY=($(compgen -W "register deregister" -- "$cur"))
        elif [ "${COMP_WORDS[2]}" = snapshot ] && [ "$COMP_CWORD" -eq 3 ]; then
            COMPREPLY=($(compgen -W "inspect restore save" -- "$cur"))
        fi
        return 0 ;;
    acl)
        if [ -z "$verb" ]; then
            COMPREPLY=($(compgen -W "bootstrap policy role set-agent-token
                token" -- "$cur"))
            return 0
        fi
        case "$verb" in
        bootstrap | set-agent-token)
            if [ "$verb" = set-agent-token ] && [ -z "$sub" ]; then
                case "$cur" in
                -*) ;;
                *)
                    COMPREPLY=($(compgen -W "default agent recovery
                        replication config_file_service_registration dns" \
                        -- "$cur"))
                    return 0 ;;
                esac
            fi
            words="$(_proconsul_flags "acl $verb")" ;;
        *)
            if [ -z "$sub" ]; then
                case "$verb" in
                token) words="clone create delete list read update" ;;
                policy | role) words="create delete list read update" ;;
                esac
                COMPREPLY=($(compgen -W "$words" -- "$cur"))
                return 0
            fi
            words="$(_proconsul_flags "acl $verb $sub")" ;;
        esac ;;
    kv)
        if [ -z "$verb" ]; then
            COMPREPLY=($(compgen -W "get put delete" -- "$cur"))
            return 0
        fi
        words="$(_proconsul_flags "kv $verb")" ;;
    operator)
        if [ -z "$verb" ]; then
            COMPREPLY=($(compgen -W "autopilot raft" -- "$cur"))
            return 0
        fi
        if [ -z "$sub" ]; then
            case "$verb" in
            raft) words="list-peers recover remove-peer transfer-leader" ;;
            autopilot) words="get-config set-config state" ;;
            esac
            COMPREPLY=($(compgen -W "$words" -- "$cur"))
            return 0
        fi
        words="$(_proconsul_flags "operator $verb $sub")" ;;
    services)
        if [ -z "$verb" ]; then
            COMPREPLY=($(compgen -W "register deregister" -- "$cur"))
            return 0
        fi
        case "$cur" in
        -*) ;;
        *) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;; # FILE...
        esac
        words="$(_proconsul_flags "services $verb")" ;;
    snapshot)
        if [ -z "$verb" ]; then
            COMPREPLY=($(compgen -W "inspect restore save" -- "$cur"))
            return 0
        fi
        case "$cur" in
        -*) ;;
        *) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;; # FILE
        esac
        words="$(_proconsul_flags "snapshot $verb")" ;;
    *)
        words="$(_proconsul_flags "$cmd")" ;;
    esac
    case "$cur" in
    -*)
        COMPREPLY=($(compgen -W "$words -help" -- "$cur"))
        # No space after "-flag=" so the value can follow.
        if [ "${#COMPREPLY[@]}" -eq 1 ] && [ "${COMPREPLY[0]%=}" != \
            "${COMPREPLY[0]}" ]; then
            compopt -o nospace 2>/dev/null
        fi ;;
    esac
    return 0
}

complete -F _proconsul proconsul consul
