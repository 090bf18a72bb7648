# test/apt-sources.sh: sourced by test/install-deps.sh and docker/base-image.sh.
#
# apt_source SUITE prints "URI KEYRING" of the Debian SUITE (component main)
# as apt knows it on this machine, from deb822 .sources files first, then
# one-line sources.list entries; KEYRING is "-" when the entry names none.

apt_source() {
	local want=$1 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v want="$want" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ") &&
					comps ~ /(^| )main( |$)/ && enabled != "no" && !done) {
					split(uris, u, " ")
					print u[1], (signed == "" ? "-" : signed)
					done = 1
				}
				types = uris = suites = comps = signed = enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{
				key = tolower($1); sub(/:$/, "", key)
				val = $0; sub(/^[^:]*:[ \t]*/, "", val)
				if (key == "types") types = val
				else if (key == "uris") uris = val
				else if (key == "suites") suites = val
				else if (key == "components") comps = val
				else if (key == "signed-by") signed = val
				else if (key == "enabled") enabled = tolower(val)
			}
			END { flush() }
		' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v want="$want" '
			$1 != "deb" { next }
			{
				signed = "-"; i = 2
				if ($2 ~ /^\[/) {
					for (; i <= NF; i++) {
						if (match($i, /signed-by=[^] ]*/))
							signed = substr($i, RSTART + 10, RLENGTH - 10)
						if ($i ~ /\]$/) { i++; break }
					}
				}
				if ($(i + 1) == want) { print $i, signed; exit }
			}
		' "$f"
	done
}
