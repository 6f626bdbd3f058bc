#!/bin/sh
# Demo agent "beta": agrees with alpha, but its "service" is overloaded on the first attempt
# (SYNOD_ATTEMPT=1), so the retry shows: it exits 1 with a 503 message, which synod classifies
# as transient and retries after a short backoff.
spec="${1:-DEMO-1}"
stage="${2:-plan}"
prompt=$(cat)
if [ "${SYNOD_ATTEMPT:-1}" = "1" ]; then
  echo "beta: 503 service overloaded, please retry" >&2
  exit 1
fi
echo "beta (attempt ${SYNOD_ATTEMPT}): plan for ${spec}, stage ${stage}, from a $(printf '%s' "$prompt" | wc -c | tr -d ' ')-byte prompt."
case "$stage" in
  tasks)
    cat <<JSON
Tasks below.
\`\`\`json
{"spec_id": "${spec}", "stage": "tasks", "approach": "incremental", "tasks": [
  {"id": "T1", "title": "Write a failing test for --dry-run"},
  {"id": "T2", "title": "Add the --dry-run flag"}
]}
\`\`\`
JSON
    ;;
  *)
    cat <<JSON
Same plan as a careful engineer would write:
\`\`\`json
{"spec_id": "${spec}", "stage": "plan", "approach": "incremental", "risk": "low", "steps": [
  {"id": "S1", "title": "Write a failing test for --dry-run"},
  {"id": "S2", "title": "Add the --dry-run flag to the parser"},
  {"id": "S3", "title": "Document the flag in the README"}
]}
\`\`\`
JSON
    ;;
esac
