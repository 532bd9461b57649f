#!/usr/bin/env bash
# Smoke test for the test OpenID Provider (provider.mjs), using only curl.
# Needs: node, curl, python3 (JSON parsing / base64url decoding).
# Usage: bash smoke.sh   (run `npm ci` in this directory first)
set -euo pipefail

cd "$(dirname "$0")"

WORK=$(mktemp -d)
PROVIDER_PID=
cleanup() {
  if [[ -n "$PROVIDER_PID" ]] && kill -0 "$PROVIDER_PID" 2>/dev/null; then
    kill -TERM "$PROVIDER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [[ -s "$WORK/op.stderr" ]]; then echo "provider stderr:" >&2; sed 's/^/  /' "$WORK/op.stderr" >&2; fi
  exit 1
}
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d'"$1"')'; }
keys() { python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))'; }
jwt_payload() {
  python3 -c '
import base64, json, sys
p = sys.argv[1].split(".")[1]
p += "=" * (-len(p) % 4)
print(json.dumps(json.loads(base64.urlsafe_b64decode(p)), indent=2, sort_keys=True))' "$1"
}

# --- start the provider: stdin and stdout are pipes (coproc) -----------------
coproc OP { exec node provider.mjs 2>"$WORK/op.stderr"; }
PROVIDER_PID=$OP_PID
OP_OUT=${OP[0]}
OP_IN=${OP[1]}

IFS= read -r -t 20 LINE <&"$OP_OUT" || fail "provider did not print its issuer line"
echo "provider stdout: $LINE"
ISSUER=$(printf '%s' "$LINE" | json '["issuer"]')
[[ "$ISSUER" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "unexpected issuer '$ISSUER'"

DISCOVERY=$(curl -sf "$ISSUER/.well-known/openid-configuration")
d() { printf '%s' "$DISCOVERY" | json "$1"; }
[[ "$(d '["issuer"]')" == "$ISSUER" ]] || fail "discovery issuer mismatch"
AUTH=$(d '["authorization_endpoint"]')
TOKEN=$(d '["token_endpoint"]')
USERINFO=$(d '["userinfo_endpoint"]')
REG=$(d '["registration_endpoint"]')
END_SESSION=$(d '["end_session_endpoint"]')
JWKS=$(d '["jwks_uri"]')
echo "discovery: auth=$AUTH token=$TOKEN userinfo=$USERINFO reg=$REG end_session=$END_SESSION jwks=$JWKS"
echo "token_endpoint_auth_methods_supported: $(d '["token_endpoint_auth_methods_supported"]')"
METHODS=$(d '["token_endpoint_auth_methods_supported"]')
[[ "$METHODS" == *client_secret_basic* && "$METHODS" == *client_secret_post* ]] || fail "auth methods not advertised"
echo "jwks: $(curl -sf "$JWKS" | json '["keys"][0]["kty"], d["keys"][0]["alg"], d["keys"][0]["use"], d["keys"][0]["kid"]')"

REDIRECT=http://127.0.0.1:9/cb
POST_LOGOUT=http://127.0.0.1:9/logged-out

# run_flow <auth method> <login_hint> <cookie jar name> [extra authorization params] [extra token params]
# A jar name that was used before keeps its cookies (existing OP session).
run_flow() {
  local method=$1 login=$2 jar=$3 extra=${4:-} token_extra=${5:-}
  echo
  echo "=== flow: token_endpoint_auth_method=$method login_hint=$login jar=$jar ==="

  local reg
  reg=$(curl -sf -X POST "$REG" -H 'content-type: application/json' -d '{
      "redirect_uris": ["'"$REDIRECT"'"],
      "post_logout_redirect_uris": ["'"$POST_LOGOUT"'"],
      "token_endpoint_auth_method": "'"$method"'",
      "grant_types": ["authorization_code"],
      "response_types": ["code"],
      "client_name": "smoke"
    }') || fail "registration failed"
  CLIENT_ID=$(printf '%s' "$reg" | json '["client_id"]')
  local secret
  secret=$(printf '%s' "$reg" | json '["client_secret"]')
  LAST_SECRET=$secret
  echo "registered: client_id=$CLIENT_ID token_endpoint_auth_method=$(printf '%s' "$reg" | json '["token_endpoint_auth_method"]') keys=[$(printf '%s' "$reg" | keys)]"

  JAR="$WORK/jar-$jar.txt"
  touch "$JAR"
  local state nonce url hops=0 code_url=
  state=st-$RANDOM$RANDOM
  nonce=n-$RANDOM$RANDOM
  url="$AUTH?response_type=code&client_id=$CLIENT_ID&redirect_uri=$(python3 -c 'import urllib.parse,sys;print(urllib.parse.quote(sys.argv[1],safe=""))' "$REDIRECT")&scope=openid%20email%20profile&state=$state&nonce=$nonce&login_hint=$(python3 -c 'import urllib.parse,sys;print(urllib.parse.quote(sys.argv[1],safe=""))' "$login")$extra"
  while :; do
    hops=$((hops + 1))
    ((hops <= 10)) || fail "too many redirects"
    local out status next
    out=$(curl -s -o "$WORK/body" -w '%{http_code} %{redirect_url}' -b "$JAR" -c "$JAR" "$url")
    status=${out%% *}
    next=${out#* }
    echo "  hop $hops: GET ${url%%\?*} -> $status ${next%%\?*}"
    [[ "$status" =~ ^30[123]$ ]] || { cat "$WORK/body" >&2; fail "expected a redirect, got $status"; }
    if [[ "$next" == "$REDIRECT"* ]]; then code_url=$next; break; fi
    url=$next
  done
  echo "  callback: $code_url"
  local code got_state
  code=$(python3 -c 'import urllib.parse,sys;q=urllib.parse.parse_qs(urllib.parse.urlsplit(sys.argv[1]).query);print(q["code"][0])' "$code_url")
  got_state=$(python3 -c 'import urllib.parse,sys;q=urllib.parse.parse_qs(urllib.parse.urlsplit(sys.argv[1]).query);print(q["state"][0])' "$code_url")
  [[ "$got_state" == "$state" ]] || fail "state mismatch"

  local auth_args=()
  if [[ "$method" == client_secret_basic ]]; then
    auth_args=(-u "$CLIENT_ID:$secret")
  else
    auth_args=(--data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$secret")
  fi
  local tok status
  if [[ -n "$token_extra" ]]; then auth_args+=(--data "$token_extra"); fi
  tok=$(curl -s -w '\n%{http_code}' "${auth_args[@]}" "$TOKEN" \
    --data-urlencode grant_type=authorization_code \
    --data-urlencode "code=$code" \
    --data-urlencode "redirect_uri=$REDIRECT")
  status=${tok##*$'\n'}
  tok=${tok%$'\n'*}
  [[ "$status" == 200 ]] || fail "token exchange: $status $tok"
  echo "token response: HTTP $status keys=[$(printf '%s' "$tok" | keys)] token_type=$(printf '%s' "$tok" | json '["token_type"]') scope=$(printf '%s' "$tok" | json '["scope"]')"
  ID_TOKEN=$(printf '%s' "$tok" | json '["id_token"]')
  local at
  at=$(printf '%s' "$tok" | json '["access_token"]')
  local payload
  payload=$(jwt_payload "$ID_TOKEN")
  echo "id_token payload:"
  printf '%s\n' "$payload" | sed 's/^/  /'
  [[ "$payload" == *"\"nonce\": \"$nonce\""* ]] || fail "nonce missing from id_token"
  [[ "$payload" == *"\"sub\": \"$login\""* ]] || fail "unexpected sub in id_token"

  echo "userinfo: $(curl -sf -H "authorization: Bearer $at" "$USERINFO")"

  local again
  again=$(curl -s -w '\n%{http_code}' "${auth_args[@]}" "$TOKEN" \
    --data-urlencode grant_type=authorization_code \
    --data-urlencode "code=$code" \
    --data-urlencode "redirect_uri=$REDIRECT")
  status=${again##*$'\n'}
  again=${again%$'\n'*}
  echo "second use of the code: HTTP $status $again"
  [[ "$status" == 400 && "$again" == *'"invalid_grant"'* ]] || fail "code reuse was not rejected with 400 invalid_grant"
  # oidc-provider also revokes what the code had issued when it is replayed
  echo "userinfo with the first access token after the replay: $(curl -s -w ' HTTP %{http_code}' -H "authorization: Bearer $at" "$USERINFO")"
}

# 1. client_secret_basic, fresh cookie jar, no PKCE
run_flow client_secret_basic 'alice@example.com' A
# 2. client_secret_post, fresh cookie jar, PKCE S256
VERIFIER=$(python3 -c 'import secrets;print(secrets.token_urlsafe(48))')
CHALLENGE=$(python3 -c 'import base64,hashlib,sys;print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$VERIFIER")
run_flow client_secret_post 'bob+unverified@example.com' B \
  "&code_challenge=$CHALLENGE&code_challenge_method=S256" "code_verifier=$VERIFIER"
# 3. same jar as 1 (OP session for alice exists), same account, new client:
#    login is skipped, the interaction hop only grants consent for the new client
run_flow client_secret_basic 'alice@example.com' A
# 4. same jar as 1, other account (no '@'): the old OP session is replaced
run_flow client_secret_basic 'carol' A

echo
echo "=== RP-initiated logout (client $CLIENT_ID, jar of the last flow) ==="
ES_URL="$END_SESSION?client_id=$CLIENT_ID&post_logout_redirect_uri=$(python3 -c 'import urllib.parse,sys;print(urllib.parse.quote(sys.argv[1],safe=""))' "$POST_LOGOUT")&state=bye"
status=$(curl -s -o "$WORK/es" -w '%{http_code}' -b "$JAR" -c "$JAR" "$ES_URL")
echo "GET end_session_endpoint: HTTP $status ($(grep -o '<form[^>]*>' "$WORK/es"))"
XSRF=$(grep -o 'name="xsrf" value="[^"]*"' "$WORK/es" | sed 's/.*value="\([^"]*\)"/\1/')
[[ -n "$XSRF" ]] || fail "no xsrf in the logout page"
out=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -b "$JAR" -c "$JAR" "$ISSUER/session/end/confirm" \
  --data-urlencode "xsrf=$XSRF" --data-urlencode logout=yes)
echo "POST /session/end/confirm: HTTP $out"
[[ "$out" == "303 $POST_LOGOUT?state=bye" ]] || fail "unexpected logout confirmation result"

echo
echo "=== errors ==="
# The last client is registered for client_secret_basic; sending the secret in
# the body must be rejected (client authentication happens before the code is looked at).
out=$(curl -s -w ' HTTP %{http_code}' "$TOKEN" --data-urlencode grant_type=authorization_code \
  --data-urlencode code=bogus --data-urlencode "redirect_uri=$REDIRECT" \
  --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$LAST_SECRET")
echo "basic client authenticating with client_secret_post: $out"
[[ "$out" == *'"invalid_client"'*' HTTP 401' ]] || fail "wrong auth method was not rejected"
out=$(curl -s -w ' HTTP %{http_code}' -u "$CLIENT_ID:wrong-secret" "$TOKEN" \
  --data-urlencode grant_type=authorization_code --data-urlencode code=bogus --data-urlencode "redirect_uri=$REDIRECT")
echo "wrong client secret: $out"
[[ "$out" == *'"invalid_client"'*' HTTP 401' ]] || fail "wrong secret was not rejected"
out=$(curl -s -w ' HTTP %{http_code}' -b "$WORK/nojar" \
  "$(curl -s -o /dev/null -w '%{redirect_url}' -c "$WORK/nojar" "$AUTH?response_type=code&client_id=$CLIENT_ID&redirect_uri=$REDIRECT&scope=openid")")
echo "authorization request without login_hint, interaction step: $out"
[[ "$out" == *' HTTP 400' ]] || fail "missing login_hint was not rejected"
status=$(curl -s -o "$WORK/e" -w '%{http_code}' "$AUTH?response_type=code&client_id=nope&redirect_uri=$REDIRECT&scope=openid")
echo "unknown client at /auth: HTTP $status $(cat "$WORK/e")"

echo
echo "=== shutdown: closing the provider's stdin ==="
eval "exec $OP_IN>&-"
for _ in $(seq 50); do kill -0 "$PROVIDER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PROVIDER_PID" 2>/dev/null; then fail "provider still running after stdin EOF"; fi
wait "$PROVIDER_PID" && rc=0 || rc=$?
echo "provider exited with status $rc after stdin closed"
echo "provider stderr:"
sed 's/^/  /' "$WORK/op.stderr"

echo
echo "=== shutdown: SIGTERM ==="
mkfifo "$WORK/op2.in"
PORT=0 node provider.mjs <"$WORK/op2.in" >"$WORK/op2.out" 2>"$WORK/op2.err" &
P2=$!
exec {P2IN}>"$WORK/op2.in"   # hold stdin open
for _ in $(seq 50); do [[ -s "$WORK/op2.out" ]] && break; sleep 0.1; done
echo "second provider stdout: $(cat "$WORK/op2.out")"
kill -TERM "$P2"
wait "$P2" && rc=0 || rc=$?
echo "provider exited with status $rc after SIGTERM"
exec {P2IN}>&-
[[ "$rc" == 0 ]] || fail "unexpected exit status after SIGTERM"

echo
echo "SMOKE OK"
