#!/bin/bash
# Usage: thread-cpu.sh <pgrep -f pattern> <output file>. Every second, reads the CPU ticks of each
# thread of the matching processes (/proc/<pid>/task/*/stat) and rewrites the output file with the
# totals by thread name (node, libvips worker, …). Stop it with kill when the run is over.
pattern=$1
out=$2
declare -A ticks
while :; do
  for pid in $(pgrep -f "$pattern" | grep -vx "$$"); do
    for task in /proc/"$pid"/task/*; do
      stat=$(cat "$task/stat" 2>/dev/null) || continue
      name=$(cat "$task/comm" 2>/dev/null)
      # Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
      read -r -a fields <<< "${stat##*) }"
      ticks["$pid/${task##*/}/$name"]=$(( fields[11] + fields[12] ))
    done
  done
  for key in "${!ticks[@]}"; do echo "${key#*/*/}	${ticks[$key]}"; done |
    awk -F'\t' '{ s[$1] += $2 } END { for (n in s) printf "%8.1f s  %s\n", s[n] / 100, n }' | sort -rn > "$out.tmp" && mv "$out.tmp" "$out"
  sleep 1
done
