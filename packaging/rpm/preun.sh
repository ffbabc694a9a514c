#!/bin/sh
# %preun of pam_sms ($1: 0 final erase, 1 upgrade). On final erase, take
# pam_sms.so out of every PAM stack before the module file goes, or every
# login through that stack would fail. Nothing is done on upgrade.
[ "$1" -eq 0 ] || exit 0

# The daily prune timer goes with the package: stopped when systemd runs,
# its links removed in any case.
if command -v systemctl >/dev/null 2>&1; then
	if [ -d /run/systemd/system ]; then
		systemctl --no-reload disable --now pam-sms-prune.timer >/dev/null 2>&1 || :
	else
		systemctl --no-reload disable pam-sms-prune.timer >/dev/null 2>&1 || :
	fi
fi

# If one of our authselect vendor profiles is active, select another one.
# The administrator selected ours by hand and nothing records what was
# active before ("pam-sms enable" never runs authselect), so choose the
# profile that keeps the most logins working. "pam-sms-sssd" is authselect's
# "sssd" with pam_sms: back to "sssd". "pam-sms" serves local users only
# (nsswitch "files", pam_unix), exactly like "local" (authselect >= 1.5) and
# "minimal" (authselect 1.2 to 1.4), which need no daemon; "sssd" comes
# last: its stacks and nsswitch.conf rely on pam_sss and a configured sssd.
# The enabled features are kept where the target profile knows them.
if command -v authselect >/dev/null 2>&1; then
	current=$(authselect current --raw 2>/dev/null || :)
	profile=${current%% *}
	features=""
	[ "$profile" = "$current" ] || features=${current#* }
	case "$profile" in
	pam-sms) targets="local minimal sssd" ;;
	pam-sms-sssd) targets="sssd" ;;
	*) targets="" ;;
	esac
	if [ -n "$targets" ]; then
		restored=""
		for target in $targets; do
			# shellcheck disable=SC2086 # features are separate words
			if authselect select "$target" $features >/dev/null 2>&1 ||
				authselect select "$target" >/dev/null 2>&1; then
				restored=$target
				break
			fi
		done
		if [ -n "$restored" ]; then
			echo "pam_sms: authselect profile $profile replaced by \"$restored\";" \
				"check it with: authselect current" >&2
		else
			# authselect refused every profile (e.g. files edited by
			# hand). Without the module file, the pam_sms.so lines of
			# our profile would fail every login, so make them
			# pam_permit.so: the jump counts of the lines before them
			# stay right (a right password lands on pam_permit, a
			# wrong one on the failure lines).
			for f in /etc/authselect/system-auth /etc/authselect/password-auth /etc/authselect/smartcard-auth; do
				[ -f "$f" ] || continue
				sed -i 's/^\([[:space:]]*auth[[:space:]].*[[:space:]]\)pam_sms\.so\([[:space:]]\|$\)/\1pam_permit.so\2/' "$f" || :
			done
			echo "pam_sms: could not switch authselect away from profile $profile;" \
				"replaced its pam_sms.so lines in /etc/authselect by pam_permit.so; select" \
				"another profile (authselect select ... --force) before logging out" >&2
		fi
	fi
fi

# Delete the lines "pam-sms enable" wrote into /etc/pam.d/*, each marked with
# the trailing comment "# added by pam-sms enable"; nothing else is touched.
for f in /etc/pam.d/*; do
	[ -f "$f" ] || continue
	if grep -q '# added by pam-sms enable[[:space:]]*$' "$f"; then
		sed -i --follow-symlinks '/# added by pam-sms enable[[:space:]]*$/d' "$f" || :
	fi
done

exit 0
