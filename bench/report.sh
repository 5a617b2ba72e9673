# report.sh - sourced by the bench scripts (from the repository root).
#
# report_splice NAME TABLE REPORT: put the Markdown file TABLE into
# REPORT between "<!-- NAME:begin -->" and "<!-- NAME:end -->", in place
# of an earlier NAME section, or at the end if REPORT has none (REPORT
# is created if it does not exist). Scripts that run side by side (make
# bench-smoke) splice into the same report: a lock on
# build/bench/report.lock makes each read-modify-write whole, so no
# section is lost. Returns non-zero if REPORT cannot be written.
report_splice () {
	mkdir -p build/bench || return 1
	(
		flock 9 || exit 1
		[ -f "$3" ] || : >"$3" || exit 1
		if grep -q "^<!-- $1:begin -->\$" "$3"; then
			awk -v f="$2" -v b="<!-- $1:begin -->" -v e="<!-- $1:end -->" '
				$0 == b { print; while ((getline l < f) > 0) print l
					skip = 1; next }
				$0 == e { skip = 0 }
				!skip { print }
			' "$3" >"$3.tmp"
		else
			{
				awk '{ l[++n] = $0; if (NF) last = n }
					END { for (i = 1; i <= last; i++) print l[i] }' "$3"
				[ -s "$3" ] && echo
				echo "<!-- $1:begin -->"
				cat "$2"
				echo "<!-- $1:end -->"
			} >"$3.tmp"
		fi && mv "$3.tmp" "$3"
	) 9>build/bench/report.lock
}
