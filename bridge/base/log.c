/* bridge/base/log.c — key=value log lines, to stderr or syslog. */
#include "bridge/base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int log_level = PB_LOG_INFO;
static _Atomic bool log_syslog = false;
static int log_fd = STDERR_FILENO;   /* under log_lock */

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int level_priority[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void base_log_setup(enum base_log_level level, bool use_syslog)
{
	pthread_mutex_lock(&log_lock);
	if (use_syslog && !atomic_load(&log_syslog))
		openlog("popbridge", LOG_PID | LOG_NDELAY, LOG_MAIL);
	else if (!use_syslog && atomic_load(&log_syslog))
		closelog();
	atomic_store(&log_syslog, use_syslog);
	atomic_store(&log_level, (int)level);
	pthread_mutex_unlock(&log_lock);
}

void base_log_set_fd(int fd)
{
	pthread_mutex_lock(&log_lock);
	log_fd = fd < 0 ? STDERR_FILENO : fd;
	pthread_mutex_unlock(&log_lock);
}

bool base_log_enabled(enum base_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

static bool bare_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c && strchr("-._:/@+,#$%[]", c));
}

size_t base_log_escape(char *dst, size_t dstlen, const char *value)
{
	size_t raw = strlen(value), n = 0;
	bool cut = raw > PB_LOG_VALUE_MAX;
	bool bare = raw > 0 && !cut && strcmp(value, "-") != 0;
	if (cut)
		raw = PB_LOG_VALUE_MAX;
	for (size_t i = 0; bare && i < raw; i++)
		bare = bare_ok((unsigned char)value[i]);
	if (bare) {
		if (raw + 1 > dstlen)
			return 0;
		memcpy(dst, value, raw + 1);
		return raw;
	}
	/* Worst case per byte is 4 (\xHH); check as we go. */
	if (dstlen < 3)
		return 0;
	dst[n++] = '"';
	for (size_t i = 0; i < raw; i++) {
		unsigned char c = (unsigned char)value[i];
		char tmp[5];
		size_t t;
		if (c == '"' || c == '\\')
			t = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", c);
		else if (c == '\n')
			t = (size_t)snprintf(tmp, sizeof(tmp), "\\n");
		else if (c == '\r')
			t = (size_t)snprintf(tmp, sizeof(tmp), "\\r");
		else if (c == '\t')
			t = (size_t)snprintf(tmp, sizeof(tmp), "\\t");
		else if (c < 0x20 || c > 0x7e)
			t = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		else
			t = (size_t)snprintf(tmp, sizeof(tmp), "%c", c);
		if (n + t + 5 > dstlen)  /* room for this, "...", '"' and NUL */
			return 0;
		memcpy(dst + n, tmp, t);
		n += t;
	}
	if (cut) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n++] = '"';
	dst[n] = 0;
	return n;
}

static bool managed_key(const char *key)
{
	return strcmp(key, "password") == 0 || strcmp(key, "pass") == 0 ||
	    strcmp(key, "secret") == 0;
}

/* Append " key=value" (value already escaped); drop it if it does not fit,
 * keeping room for " truncated=1\n". */
static void append_field(struct base_logline *l, const char *key, const char *escaped)
{
	const size_t reserve = sizeof(" truncated=1\n");
	char k[32];
	size_t kl = 0;
	for (; key[kl] && kl + 1 < sizeof(k); kl++) {
		char c = key[kl];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		k[kl] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') ? c : '_';
	}
	k[kl] = 0;
	size_t need = 1 + kl + 1 + strlen(escaped);
	if (l->truncated || l->len + need + reserve > sizeof(l->buf)) {
		l->truncated = true;
		return;
	}
	l->len += (size_t)snprintf(l->buf + l->len, sizeof(l->buf) - l->len, " %s=%s",
	    k, escaped);
}

void base_logline_start(struct base_logline *l, enum base_log_level level, const char *event)
{
	l->len = (size_t)snprintf(l->buf, sizeof(l->buf), "level=%s", level_names[level]);
	l->truncated = false;
	l->level = level;
	base_logline_str(l, "event", event);
}

void base_logline_str(struct base_logline *l, const char *key, const char *value)
{
	char esc[PB_LOG_VALUE_MAX * 4 + 8];
	if (managed_key(key))
		value = "[not logged]";
	if (!value)
		strcpy(esc, "-");
	else if (base_log_escape(esc, sizeof(esc), value) == 0)
		strcpy(esc, "\"\"");  /* cannot happen: esc holds the worst case */
	append_field(l, key, esc);
}

void base_logline_u64(struct base_logline *l, const char *key, uint64_t value)
{
	char num[24];
	snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
	append_field(l, key, num);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;  /* nowhere else to complain */
		buf += w;
		len -= (size_t)w;
	}
}

void base_logline_emit(const struct base_logline *l)
{
	enum base_log_level level = l->level;
	if (!base_log_enabled(level))
		return;

	char out[PB_LOG_LINE_MAX + 40];
	size_t n = 0;
	if (atomic_load(&log_syslog)) {
		syslog(level_priority[level], "%s%s", l->buf, l->truncated ? " truncated=1" : "");
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(out + n, sizeof(out) - n, ".%03ldZ %s%s\n",
	    ts.tv_nsec / 1000000, l->buf, l->truncated ? " truncated=1" : "");
	if (n >= sizeof(out))
		n = sizeof(out) - 1;
	pthread_mutex_lock(&log_lock);
	write_all(log_fd, out, n);
	pthread_mutex_unlock(&log_lock);
}

void base_log(enum base_log_level level, const char *event, const char *fmt, ...)
{
	if (!base_log_enabled(level))
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct base_logline l;
	base_logline_start(&l, level, event);
	base_logline_str(&l, "msg", msg);
	base_logline_emit(&l);
}

static const char *nonempty(const char *s)
{
	return s && s[0] ? s : NULL;
}

void base_log_session(const struct base_session_log *s)
{
	struct base_logline l;
	base_logline_start(&l, s->health_check ? PB_LOG_DEBUG : PB_LOG_INFO, "session");
	base_logline_str(&l, "user", nonempty(s->user));
	base_logline_str(&l, "account", nonempty(s->account));
	base_logline_str(&l, "device", nonempty(s->device));
	base_logline_str(&l, "remote", s->remote);
	base_logline_str(&l, "tls", nonempty(s->tls) ? s->tls : "none");
	base_logline_str(&l, "mech", nonempty(s->mech));
	if (s->upstream_opened)
		base_logline_str(&l, "upstream_tls",
		    nonempty(s->upstream_tls) ? s->upstream_tls : "none");
	base_logline_u64(&l, "messages", s->messages);
	base_logline_u64(&l, "retr", s->retr);
	base_logline_u64(&l, "retr_bytes", s->retr_bytes);
	base_logline_u64(&l, "top", s->top);
	base_logline_u64(&l, "top_bytes", s->top_bytes);
	base_logline_u64(&l, "dele", s->dele);
	base_logline_u64(&l, "dele_bytes", s->dele_bytes);
	base_logline_u64(&l, "auth_failures", s->auth_failures);
	base_logline_u64(&l, "bytes_in", s->bytes_in);
	base_logline_u64(&l, "bytes_out", s->bytes_out);
	base_logline_u64(&l, "duration_ms", s->duration_ms);
	base_logline_str(&l, "result", s->result);
	if (s->pending)
		base_logline_u64(&l, "pending", 1);
	if (nonempty(s->reason))
		base_logline_str(&l, "reason", s->reason);
	base_logline_emit(&l);
}
