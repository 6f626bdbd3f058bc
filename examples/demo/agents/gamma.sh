#!/bin/sh
# Demo agent "gamma": agrees on the approach but disagrees on one step (S3), so the verdict
# shows a conflict position next to the agreements.
spec="${1:-DEMO-1}"
stage="${2:-plan}"
prompt=$(cat)
echo "gamma: looked at ${spec} (${stage}); prompt starts with: $(printf '%s\n' "$prompt" | head -n 1)"
case "$stage" in
  tasks)
    cat <<JSON
\`\`\`json
{"spec_id": "${spec}", "stage": "tasks", "approach": "incremental", "tasks": [
  {"id": "T1", "title": "Write a failing test for --dry-run"},
  {"id": "T2", "title": "Add the --dry-run flag"}
]}
\`\`\`
JSON
    ;;
  *)
    echo "I would skip the README and ship a man page instead."
    cat <<JSON
\`\`\`json
{"spec_id": "${spec}", "stage": "plan", "approach": "incremental", "risk": "low", "steps": [
  {"id": "S1", "title": "Write a failing test for --dry-run"},
  {"id": "S2", "title": "Add the --dry-run flag to the parser"},
  {"id": "S3", "title": "Write a man page for the flag"}
]}
\`\`\`
JSON
    ;;
esac
