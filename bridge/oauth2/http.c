/* bridge/oauth2/http.c — form POSTs through libcurl (see http.h). */
#include "bridge/oauth2/http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "bridge/base/text.h"
#include "bridge/base/version.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init = CURLE_FAILED_INIT;

static void global_init(void)
{
	g_init = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
	char *buf;
	size_t len, cap;
	int too_big;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	if (s->len + n > OAUTH2_HTTP_BODY_MAX) {
		s->too_big = 1;
		return 0;   /* libcurl stops: CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		char *b = malloc(cap);   /* not realloc: the old copy is cleansed */
		if (b == NULL)
			return 0;
		if (s->buf != NULL) {
			memcpy(b, s->buf, s->len);
			OPENSSL_cleanse(s->buf, s->cap);
			free(s->buf);
		}
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

/* name=value&... with libcurl's escaping, into a malloc'd buffer. */
static char *build_form(CURL *c, const char *const *kv, size_t n, size_t *len)
{
	char *form = malloc(OAUTH2_HTTP_FORM_MAX);
	size_t used = 0;

	if (form == NULL)
		return NULL;
	form[0] = '\0';
	for (size_t i = 0; i + 1 < 2 * n; i += 2) {
		char *k = curl_easy_escape(c, kv[i], 0);
		char *v = curl_easy_escape(c, kv[i + 1], 0);
		int w = k && v ? snprintf(form + used, OAUTH2_HTTP_FORM_MAX - used, "%s%s=%s",
		    used ? "&" : "", k, v) : -1;
		if (v != NULL)
			OPENSSL_cleanse(v, strlen(v));
		curl_free(k);
		curl_free(v);
		if (w < 0 || (size_t)w >= OAUTH2_HTTP_FORM_MAX - used) {
			OPENSSL_cleanse(form, OAUTH2_HTTP_FORM_MAX);
			free(form);
			return NULL;
		}
		used += (size_t)w;
	}
	*len = used;
	return form;
}

int oauth2_http_post(const char *url, const char *ca_file, unsigned timeout_s,
    const char *const *kv, size_t n, struct oauth2_http *res)
{
	struct sink s = { 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	size_t flen = 0;
	char *form = NULL;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	pthread_once(&g_once, global_init);
	if (g_init != CURLE_OK) {
		snprintf(res->why, sizeof(res->why), "libcurl did not initialise");
		return -1;
	}
	CURL *c = curl_easy_init();
	if (c == NULL || (form = build_form(c, kv, n, &flen)) == NULL) {
		snprintf(res->why, sizeof(res->why), "out of memory (or a request too large)");
		goto out;
	}
	hdr = curl_slist_append(NULL, "Accept: application/json");
	/* the scheme is case-insensitive (RFC 3986 §3.1), as oauth2_url_check took it */
	int https = strncasecmp(url, "https:", 6) == 0;
	if (hdr == NULL ||
	    curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, https ? "https" : "http") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)timeout_s) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    (ca_file != NULL && ca_file[0] &&
	    curl_easy_setopt(c, CURLOPT_CAINFO, ca_file) != CURLE_OK) ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "popbridge/" POPBRIDGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)flen) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) {
		snprintf(res->why, sizeof(res->why), "libcurl refused an option");
		goto out;
	}
	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (s.too_big)
			snprintf(res->why, sizeof(res->why), "answer larger than %u octets",
			    OAUTH2_HTTP_BODY_MAX);
		else
			base_text_printable_str(res->why, sizeof(res->why),
			    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	if (s.buf == NULL) {   /* an empty answer */
		s.buf = calloc(1, 1);
		if (s.buf == NULL) {
			snprintf(res->why, sizeof(res->why), "out of memory");
			goto out;
		}
		s.cap = 1;
	}
	res->body = s.buf;
	res->len = s.len;
	s.buf = NULL;
	rc = 0;
out:
	if (s.buf != NULL) {
		OPENSSL_cleanse(s.buf, s.cap);
		free(s.buf);
	}
	if (form != NULL) {
		OPENSSL_cleanse(form, OAUTH2_HTTP_FORM_MAX);
		free(form);
	}
	curl_slist_free_all(hdr);
	if (c != NULL)
		curl_easy_cleanup(c);
	return rc;
}

void oauth2_http_free(struct oauth2_http *res)
{
	if (res->body != NULL) {
		OPENSSL_cleanse(res->body, res->len);
		free(res->body);
	}
	memset(res, 0, sizeof(*res));
}
