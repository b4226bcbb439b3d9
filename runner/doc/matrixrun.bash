# bash completion for matrixrun: verbs, each verb's options, matrix and report files,
# and for --only the cell ids that `matrixrun list` prints for the matrix on the line.
# Installed as /usr/share/bash-completion/completions/matrixrun.

_matrixrun_matrix() { # the first .xml argument after the verb, if any
    local w
    for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
        case $w in *.xml) printf '%s' "$w"; return ;; esac
    done
}

_matrixrun() {
    local cur prev verb i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local verbs="run validate list clean doctor compare html init ssh"
    verb=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        run | validate | list | clean | doctor | compare | html | init | ssh) verb=${COMP_WORDS[i]}; break ;;
        esac
    done

    case $prev in
    --only)
        local m ids
        m=$(_matrixrun_matrix)
        if [ -n "$m" ] && [ -r "$m" ]; then
            ids=$(command matrixrun list "$m" 2>/dev/null | cut -f1)
            COMPREPLY=($(compgen -W "$ids" -- "$cur"))
        fi
        return ;;
    -o | --output)
        if [ "$verb" = html ] || [ "$verb" = init ]; then
            COMPREPLY=($(compgen -f -- "$cur"))
        else
            COMPREPLY=($(compgen -d -- "$cur"))
        fi
        return ;;
    -C | --catalogue)
        COMPREPLY=($(compgen -f -X '!*.xml' -- "$cur") $(compgen -d -- "$cur"))
        return ;;
    --accel) COMPREPLY=($(compgen -W "kvm tcg auto" -- "$cur")); return ;;
    --network) COMPREPLY=($(compgen -W "isolated outbound" -- "$cur")); return ;;
    -c | --connect) COMPREPLY=($(compgen -W "qemu:///system qemu:///session" -- "$cur")); return ;;
    -j | --jobs | --shard | --overcommit | --stagger | --keep-for) return ;;
    esac

    local common="-C --catalogue --only --shard"
    local opts
    case $verb in
    "" | run) opts="$common -o --output -j --jobs --accel -c --connect --overcommit --stagger -q --quiet --keep-failed --keep --keep-for --network --warm --cold" ;;
    validate | list) opts=$common ;;
    clean) opts="-C --catalogue -c --connect -q --quiet --list --kept" ;;
    ssh) opts="" ;;
    doctor) opts="-C --catalogue -c --connect -q --quiet" ;;
    compare) opts="-C --catalogue" ;;
    html) opts="-C --catalogue -o --output -q --quiet" ;;
    init) opts="-C --catalogue -o --output -q --quiet" ;;
    esac
    [ -z "$verb" ] && opts="$opts -h --help --version"

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [ "$verb" = ssh ]; then
        # RUN, then CELL: from clean --list's "kept: CELL of run RUN until ..." lines.
        local kept n_words=$((COMP_CWORD - i - 1))
        kept=$(command matrixrun clean --list 2>/dev/null | sed -n 's/^kept: \([^ ]*\) of run \([^ ]*\) .*/\2 \1/p')
        if [ "$n_words" = 0 ]; then
            COMPREPLY=($(compgen -W "$(cut -d' ' -f1 <<<"$kept" | sort -u)" -- "$cur"))
        elif [ "$n_words" = 1 ]; then
            COMPREPLY=($(compgen -W "$(awk -v r="${COMP_WORDS[i + 1]}" '$1 == r { print $2 }' <<<"$kept")" -- "$cur"))
        fi
    elif [ "$verb" = init ]; then
        # Images and packages.
        local ext
        COMPREPLY=($(compgen -d -- "$cur"))
        for ext in qcow2 img raw deb rpm msi; do
            COMPREPLY+=($(compgen -f -X "!*.$ext" -- "$cur"))
        done
    elif [ -z "$verb" ] && [ -z "$(_matrixrun_matrix)" ]; then
        COMPREPLY=($(compgen -W "$verbs" -- "$cur") $(compgen -f -X '!*.xml' -- "$cur") $(compgen -d -- "$cur"))
    else
        COMPREPLY=($(compgen -f -X '!*.xml' -- "$cur") $(compgen -d -- "$cur"))
    fi
}
complete -F _matrixrun matrixrun
