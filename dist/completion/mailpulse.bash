# SPDX-License-Identifier: ISC
# bash completion for mailpulse(1). Installed as
# /usr/share/bash-completion/completions/mailpulse, loaded on first use.
#
# Completes subcommands, their options and option values, URL schemes, and
# check names (history, uptime, incidents) read from the configuration: the
# FILE of -c/--config on the line, else /etc/mailpulse/mailpulse.yaml,
# through `mailpulse config checks FILE`, so the names are exactly those the
# daemon would monitor (an invalid or unreadable file completes none).
# Plain bash only: it needs neither the bash-completion package's helpers
# nor anything but the mailpulse binary being completed.

_mailpulse_files() {
	compopt -o filenames 2>/dev/null
	local IFS=$'\n'
	COMPREPLY=($(compgen -f -- "$1"))
}

# The configuration named on the line, else the packaged default.
_mailpulse_conf() {
	local i w file=/etc/mailpulse/mailpulse.yaml
	for ((i = 2; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $i -ne $COMP_CWORD && ($w == -c || $w == --config) ]]; then
			# bash splits "--config=FILE" at the '=' (COMP_WORDBREAKS).
			[[ ${COMP_WORDS[i + 1]:-} == = ]] && ((i++))
			[[ $((i + 1)) -ne $COMP_CWORD && -n ${COMP_WORDS[i + 1]:-} ]] && file=${COMP_WORDS[i + 1]}
		elif [[ $i -ne $COMP_CWORD && $w == --config=* ]]; then
			file=${w#--config=}
		fi
	done
	[[ $file == "~/"* ]] && file=$HOME/${file#"~/"}
	printf '%s\n' "$file"
}

_mailpulse_checks() {
	local prog=${COMP_WORDS[0]} conf
	[[ $prog == "~/"* ]] && prog=$HOME/${prog#"~/"}
	conf=$(_mailpulse_conf)
	[[ -r $conf ]] || return
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$("$prog" config checks "$conf" 2>/dev/null)" -- "$1"))
}

_mailpulse() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmd=${COMP_WORDS[1]:-}
	# "--opt=" arrives as "--opt" "=" "": the option is the word before.
	[[ $prev == = && $COMP_CWORD -ge 3 ]] && prev=${COMP_WORDS[COMP_CWORD - 2]}
	local commands="check run probe config store status history uptime incidents help"
	COMPREPLY=()

	if [[ $COMP_CWORD -eq 1 ]]; then
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		return
	fi
	case $cmd in
	check)
		case $prev in
		--starttls) COMPREPLY=($(compgen -W "no auto require" -- "$cur")); return ;;
		--min-tls) COMPREPLY=($(compgen -W "1.0 1.1 1.2 1.3" -- "$cur")); return ;;
		--posture) COMPREPLY=($(compgen -W "report warn" -- "$cur")); return ;;
		--ca-file | --password-file) _mailpulse_files "$cur"; return ;;
		--format)
			compopt -o nospace 2>/dev/null
			COMPREPLY=($(compgen -W "%{status} %{severity} %{reason} %{message}
				%{exit_code} %{url} %{address} %{time_to_greeting_ms}
				%{time_total_ms} %{tls_version} %{cert_days_left}
				%{cert_not_after}" -- "$cur"))
			return
			;;
		--resolve | --expect | --expect-capability | --timeout | --warn-ms | --crit-ms | \
			--sni | --cert-warn | --cert-crit | --login) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-4 -6 --all-addresses --resolve --starttls --expect
				--expect-capability --timeout --warn-ms --crit-ms --sni --ca-file
				--min-tls --insecure --cert-warn --cert-crit --cert-lifetime
				--no-cert-lifetime --login --password-file --allow-plaintext-auth
				--posture --json --nagios --format -v --verbose -h --help
				--version" -- "$cur"))
		else
			compopt -o nospace 2>/dev/null
			COMPREPLY=($(compgen -W "imap:// imaps:// pop3:// pop3s://" -- "$cur"))
		fi
		;;
	run)
		case $prev in
		-c | --config) _mailpulse_files "$cur"; return ;;
		--log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
		esac
		COMPREPLY=($(compgen -W "-c --config --log-format -v --verbose -h --help" -- "$cur"))
		;;
	config)
		if [[ $COMP_CWORD -eq 2 ]]; then
			COMPREPLY=($(compgen -W "check checks --help" -- "$cur"))
		elif [[ $cur == -* ]]; then
			if [[ ${COMP_WORDS[2]} == check ]]; then
				COMPREPLY=($(compgen -W "-v --verbose -h --help" -- "$cur"))
			else
				COMPREPLY=($(compgen -W "-h --help" -- "$cur"))
			fi
		else
			_mailpulse_files "$cur"
		fi
		;;
	status | history | uptime | incidents)
		case $prev in
		--store | -c | --config) _mailpulse_files "$cur"; return ;;
		--since | --limit) return ;;
		esac
		if [[ $cur == -* ]]; then
			local opts="--store -c --config --json -h --help"
			[[ $cmd == status ]] || opts+=" --since"
			[[ $cmd == history || $cmd == incidents ]] && opts+=" --limit"
			COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		elif [[ $cmd != status ]]; then
			_mailpulse_checks "$cur"
		fi
		;;
	help)
		[[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		;;
	esac
}
complete -F _mailpulse mailpulse
