# Shared by the benchmark scripts: build, generate journals, time, measure memory.
# Benchmarks compare ratios within one run, never absolute times across runs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${BENCH_DATA:-$ROOT/bench-data}
mkdir -p "$DATA"
JOURNAL=$ROOT/target/release/journal
RUNS=${RUNS:-20}

need() { command -v "$1" >/dev/null || { echo "benches: '$1' is needed (apt-get install $2)" >&2; exit 2; }; }
need hyperfine hyperfine
need jq jq
[ -x /usr/bin/time ] || { echo "benches: /usr/bin/time is needed (apt-get install time)" >&2; exit 2; }

build() { (cd "$ROOT" && cargo build --release --quiet && cargo build --release --quiet --example gen_journal); }

# journal_of SIZE [FLAGS...]: path of a generated journal of SIZE (64M, 512M), made once.
journal_of() {
  local size=$1; shift
  local dir="$DATA/journal-$size${1:+-${1#--}}"
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir"
    "$ROOT/target/release/examples/gen_journal" --size "$size" --seed 1 "$@" "$dir" >&2
    touch "$dir/.done"
  fi
  echo "$dir"
}

# prepare SIZE: builds, then sets SIZE, WORK (scratch dir), BIN and J (the
# generated journal of SIZE); runs from the repository root.
prepare() {
  cd "$ROOT"
  SIZE=$1
  WORK=$DATA
  build
  BIN=$JOURNAL
  J=$(journal_of "$SIZE")
}

# mean_ms NAME CMD: hyperfine mean in milliseconds (output to /dev/null).
mean_ms() {
  local json; json=$(mktemp)
  hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$json" --output=null "$2" >/dev/null 2>&1 \
    || hyperfine --warmup 3 --runs "$RUNS" --export-json "$json" --output=null "$2" >/dev/null
  python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["mean"]*1000))' "$json"
  rm -f "$json"
}

# peak_mib CMD...: peak resident memory in MiB.
peak_mib() {
  /usr/bin/time -f '%M' -o /tmp/bench-peak "$@" >/dev/null 2>&1 || true
  python3 -c 'import sys; print("%.1f" % (int(open("/tmp/bench-peak").read().split()[-1])/1024))'
}

ratio() { python3 -c "import sys; print('%.2f' % (float(sys.argv[1])/float(sys.argv[2])))" "$1" "$2"; }
