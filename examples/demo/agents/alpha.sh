#!/bin/sh
# Demo agent "alpha": stands in for a real agent CLI. Reads the prompt on stdin, answers with
# prose and a fenced JSON block. No network, no state.
# Usage: alpha.sh SPEC_ID STAGE   (synod also sets SYNOD_AGENT, SYNOD_ATTEMPT, ...)
spec="${1:-DEMO-1}"
stage="${2:-plan}"
prompt=$(cat)
lines=$(printf '%s\n' "$prompt" | wc -l | tr -d ' ')
echo "alpha here. I read a ${lines}-line prompt for ${spec}, stage ${stage}."
case "$stage" in
  tasks)
    seen=$(printf '%s\n' "$prompt" | grep -c '"agent"')
    echo "I saw ${seen} earlier answer(s) and split the plan into tasks."
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
    echo "The change is small; I would do it test first, in three steps."
    cat <<JSON
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
