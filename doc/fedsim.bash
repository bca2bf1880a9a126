# bash completion for fedsim (installed as share/bash-completion/completions/fedsim).
# Completes commands, each command's options, and files: scenarios (*.json) for run, sweep and
# validate, results databases (*.sqlite) for report and plan.

_fedsim()
{
    local cur prev cmd words cword
    _init_completion 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
    }
    cmd=${COMP_WORDS[1]}
    local commands="run sweep validate report plan epsilon --help --version"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        return
    fi
    local opts files=json
    case $cmd in
        run) opts="-o --output --set --threads --quiet --variant --resume --help" ;;
        sweep) opts="-o --output --jobs --set --help" ;;
        validate) opts="--set --help" ;;
        report) opts="-o --output --help" files=sqlite ;;
        plan) opts="--target --max-epsilon --max-hours --max-bytes-per-client --by --help"
            files=sqlite ;;
        epsilon) opts="--q --sigma --steps --delta --help" files= ;;
        *) return ;;
    esac
    case $prev in
        -o | --output)
            if [ "$cmd" = report ]; then
                COMPREPLY=($(compgen -d -- "$cur"))
            else
                COMPREPLY=($(compgen -f -X '!*.sqlite' -- "$cur") $(compgen -d -- "$cur"))
            fi
            return ;;
        --by)
            COMPREPLY=($(compgen -W "hours bytes device-hours epsilon" -- "$cur"))
            return ;;
        --target)
            COMPREPLY=($(compgen -W "accuracy= auc= loss= ece= rmse= hr10=" -- "$cur"))
            compopt -o nospace 2>/dev/null
            return ;;
        --set)
            COMPREPLY=($(compgen -W "name= seed= data. model. train. server. devices. privacy.
                eval. output." -- "$cur"))
            compopt -o nospace 2>/dev/null
            return ;;
        --threads | --jobs | --variant | --q | --sigma | --steps | --delta | --max-epsilon | \
            --max-hours | --max-bytes-per-client)
            return ;;
    esac
    if [[ $cur == -* ]] || [ -z "$files" ]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -X "!*.$files" -- "$cur") $(compgen -d -- "$cur"))
        compopt -o filenames 2>/dev/null
    fi
}
complete -F _fedsim fedsim
