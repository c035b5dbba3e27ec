/*
 * An autellix program client in C, built from docs/protocol.md alone, with Debian's libnats-dev
 * (nats.c, JetStream included) and libmsgpack-dev (msgpack-c).
 *
 * It opens a session, runs a planning call on the main thread, forks parallel threads from it
 * (each call names the plan as its parent), streams every call's tokens, then closes the session.
 * The last line of output is a JSON summary; errors go to stderr with exit status 1.
 *
 *   cc -O2 -Wall -Wextra -o autellix_client autellix_client.c $(pkg-config --cflags --libs libnats msgpack)
 *   ./autellix_client --nats nats://127.0.0.1:4222 [--threads 2] [--max-tokens 24] [--prefix autellix]
 */
#include <msgpack.h>
#include <nats/nats.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CALLS 64
#define MAX_CHUNKS 4096
#define WAIT_MS 120000

/* ---- errors ---- */

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "autellix c client: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void check(natsStatus s, const char *what) {
  if (s != NATS_OK) die("%s: %s", what, natsStatus_GetText(s));
}

/* ---- encoding: one map with str keys, "v": 1, optional fields left out ---- */

typedef struct {
  msgpack_sbuffer buf;
  msgpack_packer pk;
} Packer;

static void pk_init(Packer *p, size_t fields) {
  msgpack_sbuffer_init(&p->buf);
  msgpack_packer_init(&p->pk, &p->buf, msgpack_sbuffer_write);
  msgpack_pack_map(&p->pk, fields + 1); /* + "v" */
}

static void pk_str(Packer *p, const char *s) {
  size_t n = strlen(s);
  msgpack_pack_str(&p->pk, n);
  msgpack_pack_str_body(&p->pk, s, n);
}

static void pk_kv_str(Packer *p, const char *k, const char *v) { pk_str(p, k); pk_str(p, v); }
static void pk_kv_int(Packer *p, const char *k, int64_t v) { pk_str(p, k); msgpack_pack_int64(&p->pk, v); }
static void pk_kv_bool(Packer *p, const char *k, bool v) {
  pk_str(p, k);
  if (v) msgpack_pack_true(&p->pk); else msgpack_pack_false(&p->pk);
}
static void pk_end(Packer *p) { pk_kv_int(p, "v", 1); }
static void pk_free(Packer *p) { msgpack_sbuffer_destroy(&p->buf); }

/* ---- decoding ---- */

/* The value of `key` in map `o`, or NULL (also when `o` is not a map). */
static const msgpack_object *get(const msgpack_object *o, const char *key) {
  if (o == NULL || o->type != MSGPACK_OBJECT_MAP) return NULL;
  size_t n = strlen(key);
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object_kv *kv = &o->via.map.ptr[i];
    if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n && memcmp(kv->key.via.str.ptr, key, n) == 0) return &kv->val;
  }
  return NULL;
}

/* True when `o` is a string equal to `s`. */
static bool str_is(const msgpack_object *o, const char *s) {
  return o != NULL && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) && memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* A copy of string `o` (empty when not a string); the caller frees it. */
static char *str_dup(const msgpack_object *o) {
  if (o == NULL || o->type != MSGPACK_OBJECT_STR) return strdup("");
  char *s = malloc(o->via.str.size + 1);
  memcpy(s, o->via.str.ptr, o->via.str.size);
  s[o->via.str.size] = 0;
  return s;
}

static int64_t int_of(const msgpack_object *o) {
  if (o == NULL) return -1;
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return (int64_t)o->via.u64;
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) return o->via.i64;
  if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) return (int64_t)o->via.f64;
  return -1;
}

/* ---- the program ---- */

typedef struct {
  char id[64];
  char thread[64];
  char *chunks[MAX_CHUNKS]; /* by index; duplicates dropped */
  int chunk_count;
  char *result_text;
  char *engine;
  int64_t completion_tokens;
  bool settled;
} Call;

typedef struct {
  natsConnection *nc;
  jsCtx *js;
  natsSubscription *sub;
  char prefix[128];
  char reply_to[256];
  char session[64];
  Call calls[MAX_CALLS];
  int ncalls;
  /* the last session-level reply (session.opened / session.closed), by type */
  char session_reply[32];
  int64_t session_calls_completed;
  int64_t idle_ttl_ms;
} Program;

static void js_store(Program *p, const char *kind, Packer *pk, const char *msg_id) {
  char subject[256];
  snprintf(subject, sizeof subject, "%s.intake.%s", p->prefix, kind);
  jsPubOptions opts;
  jsPubOptions_Init(&opts);
  opts.MsgId = msg_id;
  jsPubAck *ack = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_Publish(&ack, p->js, subject, pk->buf.data, (int)pk->buf.size, &opts, &jerr);
  if (s != NATS_OK) die("could not store on %s: %s (JetStream error %d)", subject, natsStatus_GetText(s), (int)jerr);
  jsPubAck_Destroy(ack);
}

static Call *find_call(Program *p, const msgpack_object *id) {
  for (int i = 0; i < p->ncalls; i++)
    if (str_is(id, p->calls[i].id)) return &p->calls[i];
  return NULL;
}

/* Handles one reply: chunks, results and errors of calls, session replies. */
static void on_reply(Program *p, const msgpack_object *m) {
  const msgpack_object *type = get(m, "type");
  if (!str_is(get(m, "sessionId"), p->session)) return; /* another program's, or not ours */
  if (str_is(type, "error")) {
    /* A late error for a call that already has its result (a session closed just after the
       result, before the engine's outcome reached the scheduler) is dropped, as the protocol
       says of anything that arrives for a settled call. */
    const msgpack_object *call_id = get(m, "callId");
    Call *late = call_id == NULL ? NULL : find_call(p, call_id);
    if (late != NULL && late->settled) return;
    char *code = str_dup(get(m, "code")), *msg = str_dup(get(m, "message"));
    die("%s: %s", code, msg);
  }
  if (str_is(type, "session.opened") || str_is(type, "session.closed")) {
    snprintf(p->session_reply, sizeof p->session_reply, "%s", str_is(type, "session.opened") ? "session.opened" : "session.closed");
    p->session_calls_completed = int_of(get(m, "callsCompleted"));
    p->idle_ttl_ms = int_of(get(m, "idleTtlMs"));
    return;
  }
  Call *c = find_call(p, get(m, "callId"));
  if (c == NULL || c->settled) return;
  if (str_is(type, "token.chunk")) {
    int64_t i = int_of(get(m, "index"));
    if (i >= 0 && i < MAX_CHUNKS && c->chunks[i] == NULL) {
      c->chunks[i] = str_dup(get(m, "text"));
      c->chunk_count++;
    }
  } else if (str_is(type, "call.result")) {
    c->result_text = str_dup(get(m, "text"));
    c->engine = str_dup(get(m, "engineId"));
    c->completion_tokens = int_of(get(get(m, "usage"), "completionTokens"));
    c->settled = true;
  }
}

/* Reads replies until `done(p, arg)` holds. */
static void wait_until(Program *p, bool (*done)(Program *, void *), void *arg) {
  while (!done(p, arg)) {
    natsMsg *msg = NULL;
    natsStatus s = natsSubscription_NextMsg(&msg, p->sub, WAIT_MS);
    if (s == NATS_TIMEOUT) die("no reply within %d ms", WAIT_MS);
    check(s, "reading replies");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    if (msgpack_unpack_next(&u, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &off) == MSGPACK_UNPACK_SUCCESS) on_reply(p, &u.data);
    msgpack_unpacked_destroy(&u);
    natsMsg_Destroy(msg);
  }
}

static bool session_reply_is(Program *p, void *want) { return strcmp(p->session_reply, (const char *)want) == 0; }

static bool calls_settled(Program *p, void *from) {
  for (int i = *(int *)from; i < p->ncalls; i++)
    if (!p->calls[i].settled) return false;
  return true;
}

static void session_message(Program *p, const char *type, const char *msg_id, const char *want) {
  Packer pk;
  pk_init(&pk, 3);
  pk_kv_str(&pk, "type", type);
  pk_kv_str(&pk, "sessionId", p->session);
  pk_kv_str(&pk, "replyTo", p->reply_to);
  pk_end(&pk);
  p->session_reply[0] = 0;
  js_store(p, "session", &pk, msg_id);
  pk_free(&pk);
  wait_until(p, session_reply_is, (void *)want);
}

static void submit(Program *p, const char *call_id, const char *thread, const char *prompt, int max_tokens, const char *parent) {
  if (p->ncalls >= MAX_CALLS) die("too many calls");
  Call *c = &p->calls[p->ncalls++];
  memset(c, 0, sizeof *c);
  snprintf(c->id, sizeof c->id, "%s", call_id);
  snprintf(c->thread, sizeof c->thread, "%s", thread);
  Packer pk;
  pk_init(&pk, 11);
  pk_kv_str(&pk, "type", "call.submit");
  pk_kv_str(&pk, "sessionId", p->session);
  pk_kv_str(&pk, "callId", call_id);
  pk_kv_str(&pk, "threadId", thread);
  pk_str(&pk, "parents");
  msgpack_pack_array(&pk.pk, parent == NULL ? 0 : 1);
  if (parent != NULL) pk_str(&pk, parent);
  int64_t tokens = (int64_t)strlen(prompt) / 4;
  pk_kv_int(&pk, "promptTokens", tokens < 1 ? 1 : tokens);
  pk_kv_int(&pk, "maxTokens", max_tokens);
  pk_kv_str(&pk, "prompt", prompt);
  pk_kv_str(&pk, "replyTo", p->reply_to);
  pk_kv_bool(&pk, "stream", true);
  pk_str(&pk, "prefix"); /* a shared system prompt: calls of every program share its KV */
  msgpack_pack_map(&pk.pk, 2);
  pk_kv_str(&pk, "id", "c-example-system");
  pk_kv_int(&pk, "tokens", 1);
  pk_end(&pk);
  char msg_id[160];
  snprintf(msg_id, sizeof msg_id, "%s/%s", p->session, call_id);
  js_store(p, "call", &pk, msg_id);
  pk_free(&pk);
}

int main(int argc, char **argv) {
  const char *url = "nats://127.0.0.1:4222";
  const char *prefix = "autellix";
  int threads = 2, max_tokens = 24;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--nats") == 0) url = argv[i + 1];
    else if (strcmp(argv[i], "--prefix") == 0) prefix = argv[i + 1];
    else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--max-tokens") == 0) max_tokens = atoi(argv[i + 1]);
    else die("unknown option %s (--nats URL --prefix P --threads N --max-tokens N)", argv[i]);
  }
  if (threads < 0 || threads > MAX_CALLS - 1) die("--threads must be 0..%d", MAX_CALLS - 1);

  static Program p;
  snprintf(p.prefix, sizeof p.prefix, "%s", prefix);
  srand((unsigned)time(NULL) ^ (unsigned)clock());
  snprintf(p.session, sizeof p.session, "c-%08x%08x", (unsigned)rand(), (unsigned)rand());
  check(natsConnection_ConnectTo(&p.nc, url), "connecting");
  check(natsConnection_JetStream(&p.js, p.nc, NULL), "JetStream context");
  natsInbox *inbox = NULL;
  check(natsInbox_Create(&inbox), "inbox");
  snprintf(p.reply_to, sizeof p.reply_to, "%s.r", (const char *)inbox);
  natsInbox_Destroy(inbox);
  check(natsConnection_SubscribeSync(&p.sub, p.nc, p.reply_to), "subscribing"); /* before publishing */
  check(natsConnection_Flush(p.nc), "flush");

  char open_id[96];
  snprintf(open_id, sizeof open_id, "open:%s", p.session);
  session_message(&p, "session.open", open_id, "session.opened");
  fprintf(stderr, "session %s open (idle TTL %lld ms)\n", p.session, (long long)p.idle_ttl_ms);

  int from = 0;
  submit(&p, "plan", "main", "Plan the trip: list the cities to visit.", max_tokens, NULL);
  wait_until(&p, calls_settled, &from);
  from = p.ncalls;
  for (int i = 0; i < threads; i++) {
    char id[32], thread[32], prompt[64];
    snprintf(id, sizeof id, "leg%d", i);
    snprintf(thread, sizeof thread, "t%d", i);
    snprintf(prompt, sizeof prompt, "Book leg %d of the plan.", i);
    submit(&p, id, thread, prompt, max_tokens, "plan");
  }
  wait_until(&p, calls_settled, &from);
  session_message(&p, "session.close", NULL, "session.closed");

  printf("{\"sessionId\":\"%s\",\"callsCompleted\":%lld,\"calls\":[", p.session, (long long)p.session_calls_completed);
  for (int i = 0; i < p.ncalls; i++) {
    Call *c = &p.calls[i];
    /* The streamed chunks, in index order, must add up to the result's text. */
    size_t len = 0;
    for (int k = 0; k < MAX_CHUNKS; k++)
      if (c->chunks[k] != NULL) len += strlen(c->chunks[k]);
    char *joined = calloc(len + 1, 1);
    for (int k = 0; k < MAX_CHUNKS; k++)
      if (c->chunks[k] != NULL) strcat(joined, c->chunks[k]);
    if (strcmp(joined, c->result_text) != 0) die("%s: streamed text differs from the result", c->id);
    free(joined);
    printf("%s{\"callId\":\"%s\",\"threadId\":\"%s\",\"engineId\":\"%s\",\"chunks\":%d,\"completionTokens\":%lld}", i ? "," : "", c->id, c->thread,
           c->engine, c->chunk_count, (long long)c->completion_tokens);
  }
  printf("]}\n");

  natsSubscription_Destroy(p.sub);
  jsCtx_Destroy(p.js);
  natsConnection_Destroy(p.nc);
  nats_Close();
  return 0;
}
