#!/usr/bin/env bash
# Instruction counts per call of ffi-core's dynamic calls (W1 int add, W2 double add, W4 strlen
# of a copied &str) and callbacks (W5, per qsort comparator call), on the path ffi-core chooses
# and forced onto libffi, with the excess over the direct C call: the instructions spent
# outside the callee. callgrind counts are deterministic, unlike times on a shared machine.
#   benches/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
bin=$(cargo bench -p hwkit-benches --bench ffi_instructions --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*ffi_instructions[^"]*\)".*/\1/p' | tail -1)
[[ -x $bin ]] || { echo "instructions.sh: cannot find the built ffi_instructions bench" >&2; exit 1; }
dir=$(mktemp -d -t hwkit-instructions.XXXXXX)
trap 'rm -rf "$dir"' EXIT
calls=10000
inclusive() { # FILE FUNCTION: the function's inclusive instruction count
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
    awk -v f="$2" '($0 ~ ("ffi_instructions::" f "[ (]") || $0 ~ ("ffi_instructions::" f "$")) && !done { gsub(",", "", $1); print $1; done = 1 }'
}
for mode in chosen libffi; do
  valgrind --tool=callgrind --callgrind-out-file="$dir/$mode.out" "$bin" "$mode" >"$dir/$mode.log" 2>&1
done
grep -h paths "$dir"/chosen.log "$dir"/libffi.log
# W5's comparator calls per sort, counted the way ffi_call counts them: from the run itself.
per_sort=$(sed -n 's/^comparator calls per sort: //p' "$dir/chosen.log")
printf '%-22s %12s %12s %12s\n' workload direct "ffi-core" "libffi path"
for w in w1 w2 w4; do
  d=$(inclusive "$dir/chosen.out" ${w}_direct)
  c=$(inclusive "$dir/chosen.out" ${w}_dynamic)
  l=$(inclusive "$dir/libffi.out" ${w}_dynamic)
  printf '%-22s %12.1f %12.1f %12.1f   (excess over direct: %.1f / %.1f)\n' "$w per call" \
    "$(bc -l <<<"$d/$calls")" "$(bc -l <<<"$c/$calls")" "$(bc -l <<<"$l/$calls")" \
    "$(bc -l <<<"($c-$d)/$calls")" "$(bc -l <<<"($l-$d)/$calls")"
done
d=$(inclusive "$dir/chosen.out" w5_direct)
c=$(inclusive "$dir/chosen.out" w5_callback)
printf '%-22s %12.1f %12.1f %12s   (excess over the C comparator: %.1f)\n' "w5 per comparator" \
  "$(bc -l <<<"$d/$calls/$per_sort")" "$(bc -l <<<"$c/$calls/$per_sort")" - \
  "$(bc -l <<<"($c-$d)/$calls/$per_sort")"
