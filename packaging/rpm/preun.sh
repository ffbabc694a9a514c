#!/bin/sh
# %preun of pam_sms ($1: 0 final erase, 1 upgrade). On final erase, take
# pam_sms.so out of every PAM stack before the module file goes, or every
# login through that stack would fail. Nothing is done on upgrade.
[ "$1" -eq 0 ] || exit 0

# If our authselect vendor profile is active, switch back to the profile
# that was active before ("pam-sms enable" records it), else to "local"
# (authselect >= 1.3) or "sssd"; the enabled features are kept where the
# target profile knows them.
if command -v authselect >/dev/null 2>&1; then
	current=$(authselect current --raw 2>/dev/null || :)
	profile=${current%% *}
	features=""
	[ "$profile" = "$current" ] || features=${current#* }
	if [ "$profile" = "pam-sms" ]; then
		previous=""
		if [ -f /var/lib/pam-sms/authselect.previous ]; then
			previous=$(head -n 1 /var/lib/pam-sms/authselect.previous)
		fi
		restored=""
		for target in "$previous" local sssd; do
			[ -n "$target" ] || continue
			[ "${target%% *}" != "pam-sms" ] || continue
			# shellcheck disable=SC2086 # features are separate words
			if authselect select $target $features >/dev/null 2>&1 ||
				authselect select $target >/dev/null 2>&1; then
				restored=$target
				break
			fi
		done
		if [ -z "$restored" ]; then
			echo "pam_sms: could not switch authselect away from profile pam-sms;" \
				"select another profile before logging out" >&2
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
