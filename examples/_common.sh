# Shared by every exercise's run.sh (sourced, not run). It gives the exercises one shape:
#   - numbered steps, each command shown before it runs ("$ ptx ..."), its output indented below it;
#   - "=>" lines that say what happened and why;
#   - a check of every outcome the exercise teaches (exit status, codes): if one differs, the exercise
#     stops and says so, and run.sh exits non-zero;
#   - its own work folder (examples/.work/NN, or $PTX_EXAMPLE_WORKDIR/NN) and workspace, removed at the end
#     (PTX_EXAMPLE_KEEP=1 keeps the files to look at); services started with `ptx up --detach` are always
#     stopped with `ptx down`, even when the exercise fails or is interrupted.
#
# Settings (environment):
#   PTX_EXAMPLE_GATEWAY_PORT  gateway port for exercises that start the services (default 8600)
#   PTX_EXAMPLE_NODE_PORT     first single-window port: AA gets it, BB the next one (default 8601)
#   PTX_EXAMPLE_WORKDIR       where the work folders go (default: examples/.work)
#   PTX_EXAMPLE_KEEP=1        keep the work folder after the run
#   PTX_EXAMPLE_PAUSE=1       wait for Enter before each step (live teaching)
#   PTX_LANG=zh|ru            the narration (steps, explanations, "=>" lines) in Chinese or Russian, from the
#                             exercise's messages.<lang>.po; a line without a translation stays English
#                             ({NAME} in a narrated line is filled from the shell variable NAME, in any language)

EXAMPLES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$EXAMPLES_DIR/.." && pwd)"

# ptx: from PATH when it is this project's (a Python script; GNU coreutils also ships a `ptx`, an unrelated
# program), else from the project's virtual environment (`make venv` or `make demo` creates it once).
_our_ptx() {
  local found
  found="$(command -v ptx 2>/dev/null)" || return 1
  head -n 1 "$found" 2>/dev/null | grep -q python
}
if ! _our_ptx; then
  if [ -x "$REPO_DIR/.venv/bin/ptx" ]; then
    PATH="$REPO_DIR/.venv/bin:$PATH"
    export PATH
  else
    echo "ptx is not installed: run 'make venv' in $REPO_DIR once (the only step that needs the network)." >&2
    exit 2
  fi
fi
# Python runs ptx, so it is there; the exercises use it only to read JSON and, in one, to edit a database.
if command -v python3 >/dev/null 2>&1; then PYTHON=python3; else PYTHON="$(dirname "$(command -v ptx)")/python"; fi

# The narration's language (PTX_LANG, else LC_ALL/LC_MESSAGES/LANG): kept for the narration only, the ptx
# commands below run as in the tests.
NARRATION_LANG="${PTX_LANG:-}"
declare -A _T=()

# Settings a participant may have exported for their own work must not leak into an exercise.
for _name in $(compgen -e); do
  case "$_name" in PTX_EXAMPLE_*) ;; PTX_*) unset "$_name" ;; esac
done
unset _name
# ptx writes into a pipe here, so it lays out its tables 160 columns wide, whatever the terminal: the same
# output as in the tests, and codes are never folded or cut in a narrow window (use a wide terminal).
unset COLUMNS

STEP=0
SERVICES_UP=0
LAST_RC=0
LAST=""

# _t LINE: the line in the narration's language (from the exercise's messages.<lang>.po and examples/locale's),
# or the line itself; then each {NAME} in it becomes the value of the shell variable NAME, so a narrated line
# that names a message id or a time is still one catalogue entry (say "Message id: {ID}", never "... $ID").
# _load_narration fills the table once per exercise (one ptx call).
_t() {
  local text="$1" filled="" name
  [ -n "${_T[$1]+set}" ] && text="${_T[$1]}"
  while [[ "$text" =~ \{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
    name="${BASH_REMATCH[1]}"
    filled+="${text%%"${BASH_REMATCH[0]}"*}"
    if [ -n "${!name+set}" ]; then filled+="${!name}"; else filled+="${BASH_REMATCH[0]}"; fi
    text="${text#*"${BASH_REMATCH[0]}"}"
  done
  printf '%s' "$filled$text"
}
_load_narration() {
  local english translated
  _T=()
  while IFS= read -r -d '' english && IFS= read -r -d '' translated; do
    _T["$english"]="$translated"
  done < <(PTX_LANG="$NARRATION_LANG" ptx narration-table "$HERE" 2>/dev/null || true)
}

# begin NN "title" "CPTA idea": the header; a clean work folder with its own workspace, which becomes the
# current directory; PTX_WORKSPACE points at it, so ptx commands need no --workspace.
begin() {
  EXERCISE="$1"
  HERE="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
  _load_narration
  printf "$(_t '=== Exercise %s: %s ===')\n" "$1" "$(_t "$2")"
  [ -n "${3:-}" ] && printf "$(_t 'CPTA: %s')\n" "$(_t "$3")"
  WORK="${PTX_EXAMPLE_WORKDIR:-$EXAMPLES_DIR/.work}/$EXERCISE"
  [ -n "$WORK" ] && [ "$WORK" != "/$EXERCISE" ] || { echo "refusing to use $WORK as a work folder" >&2; exit 2; }
  if [ -f "$WORK/workspace/run/services.json" ]; then  # services an interrupted earlier run left behind
    ptx down --workspace "$WORK/workspace" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  mkdir -p "$WORK"
  LAST="$WORK/.last-output"
  trap _on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  cd "$WORK"
  export PTX_WORKSPACE="$WORK/workspace"
  printf "$(_t 'Work folder: %s (the commands below run there)')\n" "$WORK"
}

# step "what we do now": a numbered step.
step() {
  STEP=$((STEP + 1))
  if [ "${PTX_EXAMPLE_PAUSE:-0}" = 1 ] && [ -t 0 ]; then
    read -r -p "   $(printf "$(_t '(Enter for step %d)')" "$STEP") " _
  fi
  printf "\n$(_t 'Step %d. %s')\n" "$STEP" "$(_t "$*")"
}

# say "line" ...: why we do it (each argument is one line).
say() { for line in "$@"; do printf '   %s\n' "$(_t "$line")"; done; }

# saw "line" ...: what happened and why it matters.
saw() {
  printf '   => %s\n' "$(_t "$1")"
  shift
  for line in "$@"; do printf '      %s\n' "$(_t "$line")"; done
}

fail() {
  printf '\n!! %s\n' "$*" >&2
  exit 1
}

_shown() {  # a command line as a participant would type it
  local out="" arg
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then out+=" $arg"; else out+=" '${arg//\'/\'\\\'\'}'"; fi
  done
  printf '%s' "${out# }"
}

# run EXIT command args...: show the command, run it, indent its output (also kept in $LAST), and check
# that it exits with EXIT ("any" accepts every status). ok = expect 0; refused = expect 1 (invalid).
run() {
  local expected="$1"
  shift
  printf '   $ %s\n' "$(_shown "$@")"
  set +e
  "$@" 2>&1 | tee "$LAST" | sed 's/^/     /'
  LAST_RC=${PIPESTATUS[0]}
  set -e
  if [ "$expected" != any ] && [ "$LAST_RC" != "$expected" ]; then
    fail "expected exit status $expected from '$(_shown "$@")', got $LAST_RC"
  fi
}
ok() { run 0 "$@"; }
refused() { run 1 "$@"; }

# shell EXIT 'a | pipeline > file': like run, for a command line with pipes or redirections.
shell() {
  local expected="$1"
  printf '   $ %s\n' "$2"
  set +e
  bash -o pipefail -c "$2" 2>&1 | tee "$LAST" | sed 's/^/     /'
  LAST_RC=${PIPESTATUS[0]}
  set -e
  if [ "$expected" != any ] && [ "$LAST_RC" != "$expected" ]; then
    fail "expected exit status $expected from '$2', got $LAST_RC"
  fi
}

# seen TEXT...: every TEXT appears in the last command's output.
seen() {
  local text
  for text in "$@"; do
    grep -qF -- "$text" "$LAST" || fail "expected to see '$text' in the output above"
  done
}

# not_seen TEXT...: no TEXT appears in the last command's output.
not_seen() {
  local text
  for text in "$@"; do
    if grep -qF -- "$text" "$LAST"; then fail "did not expect '$text' in the output above"; fi
  done
}

# bring FILE...: copy files or folders shipped with the exercise into the work folder.
bring() {
  local item from
  for item in "$@"; do
    cp -R "$HERE/$item" "$WORK/"
    from="$(cd "$(dirname "$HERE/$item")" && pwd)/$(basename "$item")"
    printf "   $(_t '(copied %s into the work folder)')\n" "examples${from#"$EXAMPLES_DIR"}"
  done
}

# replace FILE OLD NEW: replace the first OLD in FILE by NEW, literally (fails when OLD is not there).
replace() {
  printf "   $(_t "(edit %s: '%s' becomes '%s')")\n" "$1" "$2" "$3"
  "$PYTHON" - "$1" "$2" "$3" <<'PY' || fail "could not edit $1"
import sys
path, old, new = sys.argv[1:4]
with open(path, encoding="utf-8", newline="") as f:
    text = f.read()
if old not in text:
    sys.exit(f"'{old}' is not in {path}")
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write(text.replace(old, new, 1))
PY
}

# json_get PATH < json: one value from JSON on standard input, e.g. json_get status, json_get checks.0.name.
json_get() {
  "$PYTHON" -c '
import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[int(key)] if isinstance(value, list) else value.get(key)
print(json.dumps(value) if isinstance(value, (dict, list)) else ("" if value is None else value))' "$1"
}

# fetch URL FILE: GET URL into FILE (curl when installed, else Python), shown as the command it runs. The gateway's
# records are read as its operator, with the token ptx init wrote into the gateway's folder ($OPERATOR_TOKEN): only
# the operator and a message's own two single windows (which sign their reads with their node keys) may read them.
fetch() {
  if [ -n "${GATEWAY:-}" ] && [[ "$1" == "$GATEWAY"/* ]]; then
    OPERATOR_TOKEN="$(cat "$PTX_WORKSPACE/parties/gateway/gateway/operator.token")"
    export OPERATOR_TOKEN
    if command -v curl >/dev/null 2>&1; then
      shell 0 "curl -sS --fail -H \"Authorization: Bearer \$OPERATOR_TOKEN\" $1 -o $2"
    else
      ok "$PYTHON" -c 'import os, sys, urllib.request as u; open(sys.argv[2], "wb").write(u.urlopen(u.Request(sys.argv[1], headers={"Authorization": "Bearer " + os.environ["OPERATOR_TOKEN"]})).read())' "$1" "$2"
    fi
    return
  fi
  if command -v curl >/dev/null 2>&1; then
    ok curl -sS --fail "$1" -o "$2"
  else
    ok "$PYTHON" -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1]).read())' "$1" "$2"
  fi
}

# post_xml URL FILE ANSWER: POST FILE as application/xml, save the answer's body in ANSWER, print "HTTP <status>".
post_xml() {
  if command -v curl >/dev/null 2>&1; then
    run 0 curl -sS -X POST -H 'Content-Type: application/xml' --data-binary "@$2" -o "$3" -w 'HTTP %{http_code}\n' "$1"
  else
    run 0 "$PYTHON" -c '
import sys, urllib.error, urllib.request
request = urllib.request.Request(sys.argv[1], data=open(sys.argv[2], "rb").read(), headers={"Content-Type": "application/xml"})
try:
    response = urllib.request.urlopen(request)
except urllib.error.HTTPError as error:
    response = error
open(sys.argv[3], "wb").write(response.read())
print("HTTP", response.status)' "$1" "$2" "$3"
  fi
}

# summarise_answer FILE: message id, verdict, status and the codes of a gateway answer saved as JSON.
summarise_answer() {
  shell 0 "python3 -c \"import json; a = json.load(open('$1')); print(a['message_id'], a['verdict'], a['status'], *[f['code'] for c in a['checks'] for f in c['findings']])\""
}

# start_services: the gateway and both single windows as background processes (ptx up --detach), on
# PTX_EXAMPLE_GATEWAY_PORT and PTX_EXAMPLE_NODE_PORT (AA) / +1 (BB); they are stopped when the exercise ends.
start_services() {
  GATEWAY_PORT="${PTX_EXAMPLE_GATEWAY_PORT:-8600}"
  NODE_PORT="${PTX_EXAMPLE_NODE_PORT:-8601}"
  GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
  SERVICES_UP=1
  run any ptx up --detach --gateway-port "$GATEWAY_PORT" --node-port "$NODE_PORT"
  if [ "$LAST_RC" != 0 ]; then
    fail "the services did not start; if a port is taken, choose others:" \
      "PTX_EXAMPLE_GATEWAY_PORT=8700 PTX_EXAMPLE_NODE_PORT=8701 $0"
  fi
}

# background NAME COMMAND...: start a long-running command (a service on a party's own folder) in the background,
# its output in NAME.log; it is stopped when the exercise ends, whatever happens.
BACKGROUND_PIDS=""
background() {
  local name="$1"
  shift
  printf '   $ %s &   (output in %s.log)\n' "$(_shown "$@")" "$name"
  "$@" >"$WORK/$name.log" 2>&1 &
  BACKGROUND_PIDS="$BACKGROUND_PIDS $!"
}

# ready URL NAME: wait until URL answers (a service started with background), or fail with its log.
ready() {
  local _
  for _ in $(seq 1 150); do
    "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  tail -n 20 "$WORK/$2.log" >&2
  fail "$2 did not start at $1 (a port may be taken: choose others with PTX_EXAMPLE_GATEWAY_PORT and PTX_EXAMPLE_NODE_PORT)"
}

# stop_services: ptx down, as a step of its own (the exit trap then has nothing left to stop).
stop_services() {
  ok ptx down
  SERVICES_UP=0
}

# message_id: the message id in the last `ptx send` output ("message <id>: STATUS").
message_id() {
  sed -n 's/^message \([^:]*\): .*/\1/p' "$LAST" | head -n 1
}

# finish "what this exercise showed": the closing line; run.sh then exits 0.
finish() {
  printf "\n$(_t 'Done: exercise %s went as expected. %s')\n" "$EXERCISE" "$(_t "$*")"
}

_on_exit() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in $BACKGROUND_PIDS; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $BACKGROUND_PIDS; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$SERVICES_UP" = 1 ]; then
    if [ "$rc" = 0 ]; then
      printf '\n%s\n   $ ptx down\n' "$(_t 'Cleaning up: stopping the services.')"
      ptx down 2>&1 | sed 's/^/     /' || true
    else
      for log in "$PTX_WORKSPACE"/logs/*.log; do
        if [ -f "$log" ]; then
          { printf '\n--- last lines of %s ---\n' "$log"; tail -n 15 "$log"; } >&2
        fi
      done
      ptx down >/dev/null 2>&1 || true
    fi
  fi
  cd "$EXAMPLES_DIR"
  if [ "${PTX_EXAMPLE_KEEP:-0}" = 1 ]; then
    printf "$(_t 'Files kept in %s (PTX_EXAMPLE_KEEP=1).')\n" "$WORK"
  else
    rm -rf "$WORK"
  fi
  if [ "$rc" = 130 ] || [ "$rc" = 143 ]; then
    printf "$(_t 'Exercise %s interrupted; its services are stopped.')\n" "$EXERCISE" >&2
  elif [ "$rc" != 0 ]; then
    printf "$(_t 'Exercise %s did NOT go as expected (exit %s); see the message above.')\n" "$EXERCISE" "$rc" >&2
  fi
  exit "$rc"
}
