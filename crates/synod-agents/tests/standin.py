#!/usr/bin/env python3
"""A stand-in of the Anthropic, Gemini and OpenAI Responses APIs on 127.0.0.1, and the
script that recorded tests/transcripts/ by running the real claude, gemini and codex CLIs
against it.

The first path segment picks the behaviour, so each CLI's base URL selects a scenario:
  http://127.0.0.1:PORT/<scenario>   (ANTHROPIC_BASE_URL, GOOGLE_GEMINI_BASE_URL)
  http://127.0.0.1:PORT/<scenario>/v1 (codex model_providers.X.base_url)
Scenarios: ok, e401, e429wait (Retry-After: 17 / "retry in 17s"), e429 (no time stated),
e503, e529 (Anthropic's overloaded_error); for the end-to-end tests (crates/synod/tests/
real_clis.rs) also reject (a different answer), hang (the request is read and never
answered) and e429once, e503once, e529once (the first model request of each API fails as
e429/e503/e529, later ones succeed); e429waitN and e429waitNonce state a wait of N seconds
instead of 17. A scenario may carry a tag after `~` (`/e429once~t1`): "once" is counted per
scenario, tag and API.

Usage:
  standin.py serve PORT [LOG]        run the stand-in only; PORT 0 picks a free port. The
                                     port is printed as the first line of stdout, the
                                     server exits when its stdin closes (its parent died),
                                     and every model request is appended to LOG as a JSON
                                     line {"t", "api", "scenario", "tag", "path", "status",
                                     "schema"} (schema: the request carried an answer schema)
  standin.py record BIN_DIR OUT_DIR [NAME_PREFIX [SCENARIO,...]]
                                     start it on a free port and record every CLI x scenario
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = '{"verdict": "approve", "score": 7}'
RESET_EPOCH = 1800000000
SCENARIOS = ["ok", "e401", "e429wait", "e429", "e503", "e529"]
# scenarios of the end-to-end tests, not recorded as transcripts
EXTRA = ["reject", "hang", "e429once", "e503once", "e529once"]
REJECT = '{"verdict": "reject", "score": 2}'
FAILED_ONCE = set()
LOG = {"file": None, "lock": threading.Lock()}
HANG = threading.Event()  # never set: a hung request waits for it until the server exits


def anthropic_error(status, etype, message):
    return status, {"type": "error", "error": {"type": etype, "message": message},
                    "request_id": "req_standin"}


def gemini_error(status, gstatus, message, retry=None):
    err = {"code": status, "message": message, "status": gstatus}
    if retry:
        err["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                           "retryDelay": retry}]
    return status, {"error": err}


def openai_error(status, etype, code, message):
    return status, {"error": {"message": message, "type": etype, "param": None, "code": code}}


def failure(api, scenario, wait=17):
    """(status, body, headers) for a failing scenario, None for ok (`wait`: the seconds an
    e429wait states)."""
    headers = {}
    if scenario == "e401":
        r = {"anthropic": anthropic_error(401, "authentication_error", "invalid x-api-key"),
             "gemini": gemini_error(401, "UNAUTHENTICATED",
                                    "API key not valid. Please pass a valid API key."),
             "openai": openai_error(401, "invalid_request_error", "invalid_api_key",
                                    "Incorrect API key provided: sk-stand***in.")}[api]
    elif scenario == "e429wait":
        headers["retry-after"] = str(wait)
        if api == "anthropic":
            # the unified rate-limit headers claude relays as stream-json `rate_limit_event`
            # (a fixed reset time keeps the transcripts stable: 2027-01-15T08:00:00Z)
            headers["anthropic-ratelimit-unified-status"] = "rejected"
            headers["anthropic-ratelimit-unified-reset"] = str(RESET_EPOCH)
            headers["anthropic-ratelimit-unified-representative-claim"] = "five_hour"
        r = {"anthropic": anthropic_error(429, "rate_limit_error",
                                          "Number of request tokens has exceeded your per-minute rate limit"),
             "gemini": gemini_error(429, "RESOURCE_EXHAUSTED",
                                    f"You exceeded your current quota. Please retry in {wait}s.",
                                    f"{wait}s"),
             "openai": openai_error(429, "requests", "rate_limit_exceeded",
                                    "Rate limit reached for gpt-5 on requests per min (RPM): "
                                    f"Limit 3, Used 3, Requested 1. Please try again in {wait}s.")}[api]
    elif scenario == "e429":
        r = {"anthropic": anthropic_error(429, "rate_limit_error", "Rate limited. Please try again later."),
             "gemini": gemini_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
             "openai": openai_error(429, "requests", "rate_limit_exceeded", "Too Many Requests")}[api]
    elif scenario == "e503":
        r = {"anthropic": anthropic_error(503, "api_error", "Service Unavailable"),
             "gemini": gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
             "openai": openai_error(503, "server_error", None, "Service Unavailable")}[api]
    elif scenario == "e529":
        r = {"anthropic": anthropic_error(529, "overloaded_error", "Overloaded"),
             "gemini": gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
             "openai": openai_error(503, "server_error", None, "The server is overloaded")}[api]
    else:
        return None
    return r[0], r[1], headers


def sse(events):
    out = []
    for name, data in events:
        if name:
            out.append(f"event: {name}\n")
        out.append(f"data: {json.dumps(data)}\n\n")
    return "".join(out).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("STANDIN_LOG"):
            sys.stderr.write("standin: " + fmt % args + "\n")

    def send(self, status, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def escaped(self):
        """A request meant for another host (the tests point HTTP(S)_PROXY here): logged as
        api "escape" (tag: the proxy user name) and refused."""
        if self.command != "CONNECT" and not self.path.startswith(("http://", "https://")):
            return False
        tag = ""
        auth = self.headers.get("proxy-authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                tag = base64.b64decode(auth[6:]).decode().partition(":")[0]
            except ValueError:
                pass
        self.log("escape", self.command + " " + self.path, tag, 403)
        self.send(403, {"error": "the tests allow no network but 127.0.0.1"})
        self.close_connection = True
        return True

    def do_CONNECT(self):
        self.escaped()

    def do_GET(self):
        if self.escaped():
            return None
        # codex lists models; anything else: an empty success
        if self.path.endswith("/models") or "/models?" in self.path:
            self.send(200, {"object": "list", "data": [], "models": []})
        else:
            self.send(200, {})

    def do_HEAD(self):
        if self.escaped():
            return None
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.escaped():
            return None
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            req = {}
        parts = self.path.split("/")
        first = parts[1] if len(parts) > 1 else ""
        scenario, _, tag = first.partition("~")
        wait = 17
        digits = scenario[len("e429wait"):].removesuffix("once")
        if scenario.startswith("e429wait") and digits.isdigit():
            wait = int(digits)
            scenario = scenario.replace(digits, "", 1)
        if scenario not in SCENARIOS + EXTRA + ["e429waitonce"]:
            scenario, tag = "ok", ""
        if "/v1/messages" in self.path and "count_tokens" not in self.path:
            api = "anthropic"
        elif "generateContent" in self.path or "streamGenerateContent" in self.path:
            api = "gemini"
        elif self.path.endswith("/responses"):
            api = "openai"
        else:
            return self.anthropic(scenario, req) if "/v1/messages" in self.path else self.send(200, {})
        if scenario.endswith("once"):
            key = (scenario, tag, api)
            with LOG["lock"]:
                first_time = key not in FAILED_ONCE
                FAILED_ONCE.add(key)
            scenario = scenario[:-len("once")] if first_time else "ok"
        self.wait = wait
        status = {"ok": 200, "reject": 200, "hang": "hang", "e429wait": 429, "e429": 429,
                  "e503": 503, "e529": 529 if api == "anthropic" else 503, "e401": 401}[scenario]
        # whether the request carried the stage's answer schema (claude: its StructuredOutput
        # tool; codex: the Responses API's text.format json_schema)
        schema = (any(t.get("name") == "StructuredOutput" for t in req.get("tools") or [])
                  or (req.get("text") or {}).get("format", {}).get("type") == "json_schema")
        self.log(api, first, tag, status, schema)
        if scenario == "hang":
            HANG.wait(600)
            self.close_connection = True
            return None
        return {"anthropic": self.anthropic, "gemini": self.gemini,
                "openai": self.openai}[api](scenario, req)

    def log(self, api, scenario, tag, status, schema=False):
        line = json.dumps({"t": time.time(), "api": api, "scenario": scenario.partition("~")[0],
                           "tag": tag, "path": self.path, "status": status, "schema": schema})
        with LOG["lock"]:
            if LOG["file"]:
                with open(LOG["file"], "a") as fh:
                    fh.write(line + "\n")

    # Anthropic Messages API
    def anthropic(self, scenario, req):
        answer = REJECT if scenario == "reject" else ANSWER
        if "count_tokens" in self.path:
            return self.send(200, {"input_tokens": 12})
        f = failure("anthropic", scenario, getattr(self, "wait", 17))
        if f:
            return self.send(f[0], f[1], headers=dict(f[2], **{"request-id": "req_standin"}))
        model = req.get("model", "claude-sonnet-4-5")
        usage = {"input_tokens": 120, "output_tokens": 9, "cache_read_input_tokens": 30,
                 "cache_creation_input_tokens": 0}
        structured = any(t.get("name") == "StructuredOutput" for t in req.get("tools") or [])
        last = (req.get("messages") or [{}])[-1]
        answered = isinstance(last.get("content"), list) and any(
            c.get("type") == "tool_result" for c in last["content"] if isinstance(c, dict))
        if structured and not answered and req.get("stream"):
            # --json-schema: the answer is a call of claude's StructuredOutput tool
            return self.send(200, sse([
                ("message_start", {"type": "message_start", "message": {
                    "id": "msg_standin", "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": None, "stop_sequence": None,
                    "usage": dict(usage, output_tokens=1)}}),
                ("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": {"type": "tool_use", "id": "toolu_standin",
                                                           "name": "StructuredOutput", "input": {}}}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "input_json_delta", "partial_json": answer}}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                ("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                   "usage": {"output_tokens": 9}}),
                ("message_stop", {"type": "message_stop"}),
            ]), "text/event-stream", {"request-id": "req_standin"})
        if not req.get("stream"):
            return self.send(200, {"id": "msg_standin", "type": "message", "role": "assistant",
                                   "model": model, "content": [{"type": "text", "text": answer}],
                                   "stop_reason": "end_turn", "stop_sequence": None, "usage": usage})
        body = sse([
            ("message_start", {"type": "message_start", "message": {
                "id": "msg_standin", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": dict(usage, output_tokens=1)}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": answer}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": 9}}),
            ("message_stop", {"type": "message_stop"}),
        ])
        self.send(200, body, "text/event-stream", {"request-id": "req_standin"})

    # Gemini generateContent / streamGenerateContent?alt=sse
    def gemini(self, scenario, req):
        f = failure("gemini", scenario, getattr(self, "wait", 17))
        if f:
            return self.send(f[0], f[1], headers=f[2])
        model = self.path.split("/models/")[-1].split(":")[0] if "/models/" in self.path else "gemini-2.5-pro"
        cfg = req.get("generationConfig") or {}
        text = REJECT if scenario == "reject" else ANSWER
        if cfg.get("responseMimeType") == "application/json" and "streamGenerate" not in self.path:
            # the model router (or another structured internal call)
            text = json.dumps({"reasoning": "simple task", "model_choice": "flash",
                               "complexity_reasoning": "simple task", "complexity_score": 1,
                               "next_speaker": "user", "corrected_string": ""})
        resp = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 9,
                                  "cachedContentTokenCount": 30, "totalTokenCount": 129},
                "modelVersion": model, "responseId": "resp_standin"}
        if "streamGenerateContent" in self.path:
            return self.send(200, sse([(None, resp)]), "text/event-stream")
        self.send(200, resp)

    # OpenAI Responses API (streamed)
    def openai(self, scenario, req):
        f = failure("openai", scenario, getattr(self, "wait", 17))
        if f:
            return self.send(f[0], f[1], headers=f[2])
        model = req.get("model", "gpt-5")
        item = {"type": "message", "role": "assistant", "id": "msg_standin", "status": "completed",
                "content": [{"type": "output_text", "annotations": [],
                             "text": REJECT if scenario == "reject" else ANSWER}]}
        body = sse([
            ("response.created", {"type": "response.created",
                                  "response": {"id": "resp_standin", "model": model}}),
            ("response.output_item.done", {"type": "response.output_item.done",
                                           "output_index": 0, "item": item}),
            ("response.completed", {"type": "response.completed", "response": {
                "id": "resp_standin", "model": model,
                "usage": {"input_tokens": 120, "input_tokens_details": {"cached_tokens": 30},
                          "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 0},
                          "total_tokens": 129}}}),
        ])
        self.send(200, body, "text/event-stream")


def serve(port):
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


SCHEMA = json.dumps({"type": "object", "required": ["verdict", "score"],
                     "properties": {"verdict": {"type": "string"}, "score": {"type": "integer"}}})
PROMPT = "Review the change and answer with JSON only: {\"verdict\": ..., \"score\": ...}"


def invocations(bins, base, home, scenario):
    """(name, argv, env, stdin) per CLI and output mode, with each CLI's own retries off."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC", "CLAUDE", "GEMINI", "GOOGLE", "OPENAI", "CODEX"))}
    env["HOME"] = home
    url = f"{base}/{scenario}"
    claude = dict(env, ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY="sk-ant-standin",
                  CLAUDE_CODE_MAX_RETRIES="0", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
                  DISABLE_AUTOUPDATER="1")
    gemini_home = os.path.join(home, "gemini")
    os.makedirs(os.path.join(gemini_home, ".gemini"), exist_ok=True)
    # the user's own settings pick the API key; the preset's override (system settings, the
    # highest precedence of the settings files) turns the CLI's retries off
    with open(os.path.join(gemini_home, ".gemini", "settings.json"), "w") as fh:
        json.dump({"security": {"auth": {"selectedType": "gemini-api-key"}}}, fh)
    system = os.path.join(home, "gemini-system-settings.json")
    with open(system, "w") as fh:
        json.dump({"general": {"maxAttempts": 1}}, fh)
    gemini = dict(env, GOOGLE_GEMINI_BASE_URL=url, GEMINI_API_KEY="standin-key",
                  GEMINI_CLI_HOME=gemini_home, GEMINI_CLI_SYSTEM_SETTINGS_PATH=system)
    codex_home = os.path.join(home, "codex")
    os.makedirs(codex_home, exist_ok=True)
    with open(os.path.join(codex_home, "config.toml"), "w") as fh:
        fh.write('model = "gpt-5"\nmodel_provider = "standin"\n'
                 '[model_providers.standin]\nname = "standin"\n'
                 f'base_url = "{url}/v1"\nenv_key = "STANDIN_API_KEY"\nwire_api = "responses"\n'
                 'request_max_retries = 0\nstream_max_retries = 0\n')
    codex = dict(env, CODEX_HOME=codex_home, STANDIN_API_KEY="sk-standin")
    b = lambda n: os.path.join(bins, n)
    # gemini's model router (model "auto") retries 429/503 for minutes whatever
    # general.maxAttempts says: the failure scenarios name a model, which skips it
    gm = ["-m", "gemini-2.5-pro"] if scenario not in ("ok", "e401") else []
    yield "claude-json", [b("claude"), "-p", "--output-format", "json"], claude, PROMPT
    yield "claude-stream", [b("claude"), "-p", "--output-format", "stream-json", "--verbose"], claude, PROMPT
    yield "claude-text", [b("claude"), "-p"], claude, PROMPT
    yield "claude-schema", [b("claude"), "-p", "--output-format", "json", "--json-schema",
                            SCHEMA], claude, PROMPT
    # without a TTY gemini runs headless and reads the prompt from stdin; `-p` appends to it
    yield "gemini-json", [b("gemini"), "--skip-trust", "--output-format", "json"] + gm, gemini, PROMPT
    yield "gemini-stream", [b("gemini"), "--skip-trust", "--output-format", "stream-json",
                            "-p", PROMPT] + gm, gemini, ""
    yield "gemini-text", [b("gemini"), "--skip-trust"] + gm, gemini, PROMPT
    yield "codex-json", [b("codex"), "exec", "--json", "--skip-git-repo-check", "-"], codex, PROMPT
    yield "codex-text", [b("codex"), "exec", "--skip-git-repo-check", "-"], codex, PROMPT


def record(bins, out, only=None, scenarios=None):
    srv = serve(0)
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    os.makedirs(out, exist_ok=True)
    for scenario in SCENARIOS:
        if scenarios and scenario not in scenarios.split(","):
            continue
        # gemini skips a system settings file under a group/world-writable directory such
        # as /tmp: keep the homes under the user's own cache directory
        cache = os.path.join(os.path.expanduser("~"), ".cache")
        os.makedirs(cache, mode=0o700, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as home:
            for name, argv, env, stdin in invocations(bins, base, home, scenario):
                if only and not name.startswith(only):
                    continue
                if scenario == "e529" and not name.startswith("claude"):
                    continue  # 529 is Anthropic's
                try:
                    p = subprocess.run(argv, input=stdin.encode(), env=env, cwd=home,
                                       capture_output=True, timeout=120)
                    code, so, se = p.returncode, p.stdout, p.stderr
                except subprocess.TimeoutExpired as e:
                    code, so, se = "timeout", e.stdout or b"", e.stderr or b""
                stem = os.path.join(out, f"{name}.{scenario}")
                # the temporary home differs per run: keep transcripts stable
                for suffix, data in (("stdout", so), ("stderr", se)):
                    with open(f"{stem}.{suffix}", "wb") as fh:
                        fh.write(data.replace(home.encode(), b"/home/standin")
                                 .replace(base.encode(), b"http://127.0.0.1:PORT")
                                 .replace(base[7:].encode(), b"127.0.0.1:PORT"))
                with open(f"{stem}.exit", "w") as fh:
                    fh.write(f"{code}\n")
                print(f"{name}.{scenario}: exit {code}, {len(so)} B stdout, {len(se)} B stderr",
                      flush=True)
    srv.shutdown()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        LOG["file"] = sys.argv[3] if len(sys.argv) > 3 else None
        srv = serve(int(sys.argv[2]))
        print(srv.server_address[1], flush=True)
        sys.stdin.read()  # until the parent closes it or dies
        if LOG["file"]:
            try:
                os.remove(LOG["file"])
            except OSError:
                pass
        os._exit(0)
    else:
        record(sys.argv[2], sys.argv[3], *sys.argv[4:6])
