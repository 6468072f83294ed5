/* bridge/config/file.c — read, validate and apply the XML configuration file. */
#include "bridge/config/file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "bridge/config/schema.h"

/* ---- collecting problems ---------------------------------------------------- */

struct problem {
	unsigned line;
	unsigned seq;      /* order of discovery, for a stable sort */
	bool from_schema;  /* libxml2 parser or RELAX NG message */
	bool warning;      /* text starts with PB_CONFIG_WARNING; not a problem */
	char text[PB_ERR_MAX + 80];
};

struct problems {
	struct problem list[PB_CONFIG_PROBLEMS_MAX];
	size_t n;          /* problems and warnings */
	size_t errors;     /* of them, problems: the file is invalid */
	bool overflow;
};

static void add_entry(struct problems *p, unsigned line, bool from_schema, bool warning,
    const char *text)
{
	if (p->n >= PB_CONFIG_PROBLEMS_MAX) {
		p->overflow = true;
		return;
	}
	struct problem *e = &p->list[p->n];
	e->line = line;
	e->seq = (unsigned)p->n;
	e->from_schema = from_schema;
	e->warning = warning;
	/* One line of printable text: libxml2 messages end with a newline. */
	size_t j = 0;
	for (size_t i = 0; text[i] && j + 1 < sizeof(e->text); i++) {
		unsigned char c = (unsigned char)text[i];
		e->text[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	while (j > 0 && e->text[j - 1] == ' ')
		j--;
	e->text[j] = 0;
	for (size_t i = 0; i < p->n; i++)  /* libxml2 may say the same thing twice */
		if (p->list[i].line == line && strcmp(p->list[i].text, e->text) == 0)
			return;
	p->n++;
	p->errors += !warning;
}

static void add_problem(struct problems *p, unsigned line, bool from_schema,
    const char *text)
{
	add_entry(p, line, from_schema, false, text);
}

static void xml_error(void *arg, xmlErrorPtr err)
{
	if (!err || err->level < XML_ERR_ERROR)
		return;  /* warnings do not make a file invalid */
	long line = err->line;
	if (line <= 0 && err->node)
		line = xmlGetLineNo((xmlNodePtr)err->node);
	add_problem(arg, line > 0 ? (unsigned)line : 0, true,
	    err->message ? err->message : "XML error");
}

static int cmp_problem(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort by line; a schema message on a line that has one of ours is dropped
 * (ours says precisely what is wrong with the value). */
static void report_all(struct problems *p, const char *path,
    config_report_fn *report, void *arg)
{
	qsort(p->list, p->n, sizeof(p->list[0]), cmp_problem);
	for (size_t i = 0; i < p->n; i++) {
		const struct problem *e = &p->list[i];
		bool shadowed = false;
		for (size_t j = 0; e->from_schema && e->line && j < p->n; j++)
			if (!p->list[j].from_schema && !p->list[j].warning &&
			    p->list[j].line == e->line)
				shadowed = true;
		if (!shadowed)
			report(arg, path, e->line, e->text);
	}
	if (p->overflow)
		report(arg, path, 0, "too many problems; the rest are not shown");
}

bool config_report_is_warning(const char *problem)
{
	return strncmp(problem, PB_CONFIG_WARNING, sizeof(PB_CONFIG_WARNING) - 1) == 0;
}

void config_report_print(void *arg, const char *file, unsigned line,
    const char *problem)
{
	FILE *f = arg ? arg : stderr;
	if (line)
		fprintf(f, "%s:%u: %s\n", file, line, problem);
	else
		fprintf(f, "%s: %s\n", file, problem);
}

/* ---- reading ------------------------------------------------------------------ */

/* The whole file into a malloc'd buffer, bounded; NULL with a problem. */
static char *read_bounded(const char *path, size_t *len, struct problems *p)
{
	char msg[PB_ERR_MAX];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
		add_problem(p, 0, false, msg);
		return NULL;
	}
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		add_problem(p, 0, false, "not a regular file");
		goto out;
	}
	buf = malloc(PB_CONFIG_MAX + 1);
	if (!buf) {
		add_problem(p, 0, false, "out of memory");
		goto out;
	}
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, PB_CONFIG_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(msg, sizeof(msg), "cannot read: %s", strerror(errno));
			add_problem(p, 0, false, msg);
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > PB_CONFIG_MAX) {
			snprintf(msg, sizeof(msg), "larger than %d bytes", PB_CONFIG_MAX);
			add_problem(p, 0, false, msg);
			goto fail;
		}
	}
	*len = n;
	goto out;
fail:
	free(buf);
	buf = NULL;
out:
	close(fd);
	return buf;
}

static unsigned doctype_line(const char *buf, size_t len)
{
	const char *d = memmem(buf, len, "<!DOCTYPE", 9);
	unsigned line = 1;
	for (const char *c = buf; d && c < d; c++)
		line += *c == '\n';
	return line;
}

/* ---- applying elements ------------------------------------------------------- */

struct attrmap {
	const char *attr;
	enum config_key key;
};

/* Where each element's attributes go. Which elements and attributes exist,
 * which are required and which values are allowed is the schema's to say
 * (contrib/popbridge.rng); this table only maps attributes to option keys. */
struct elemdef {
	const char *name;
	const struct attrmap *attrs;  /* ends with attr == NULL */
	/* More than one allowed. Not left to the schema: RELAX NG says "once,
	 * in any order" only with <interleave>, and libxml2 then reports a
	 * second copy as "Extra element X in interleave" without the line of
	 * the first, and stops checking the other elements. */
	bool repeatable;
};

static const struct attrmap upstream_attrs[] = {
	{ "url", PB_K_UPSTREAM }, { "tls", PB_K_UPSTREAM_TLS },
	{ "ca", PB_K_UPSTREAM_CA }, { "timeout", PB_K_UPSTREAM_TIMEOUT },
	{ "forward-client-ip", PB_K_UPSTREAM_FORWARD_CLIENT_IP },
	{ "reuse", PB_K_UPSTREAM_REUSE }, { "max-per-account", PB_K_UPSTREAM_MAX_PER_ACCOUNT },
	{ NULL, 0 } };
static const struct attrmap tls_attrs[] = {
	{ "cert", PB_K_CERT }, { "key", PB_K_KEY }, { "min-version", PB_K_TLS_MIN },
	{ NULL, 0 } };
static const struct attrmap auth_attrs[] = {
	{ "mode", PB_K_AUTH }, { "device-separator", PB_K_DEVICE_SEPARATOR },
	{ "allow-plaintext", PB_K_ALLOW_PLAINTEXT_AUTH }, { NULL, 0 } };
static const struct attrmap mailbox_attrs[] = {
	{ "folder", PB_K_FOLDER }, { "offer", PB_K_OFFER }, { "window", PB_K_WINDOW },
	{ "seen-on", PB_K_SEEN_ON }, { "dele", PB_K_DELE }, { "login-delay", PB_K_LOGIN_DELAY },
	{ "trash-folder", PB_K_TRASH_FOLDER }, { "archive-folder", PB_K_ARCHIVE_FOLDER },
	{ "dele-keyword", PB_K_DELE_KEYWORD }, { NULL, 0 } };
static const struct attrmap limits_attrs[] = {
	{ "max-sessions", PB_K_MAX_SESSIONS },
	{ "max-sessions-per-ip", PB_K_MAX_SESSIONS_PER_IP },
	{ "idle-timeout", PB_K_IDLE_TIMEOUT }, { "login-timeout", PB_K_LOGIN_TIMEOUT },
	{ "max-auth-failures", PB_K_MAX_AUTH_FAILURES },
	{ "max-devices-per-account", PB_K_MAX_DEVICES_PER_ACCOUNT }, { NULL, 0 } };
static const struct attrmap proxy_attrs[] = {
	{ "protocol", PB_K_PROXY_PROTOCOL }, { NULL, 0 } };
static const struct attrmap trusted_proxy_attrs[] = {
	{ "cidr", PB_K_TRUSTED_PROXY }, { NULL, 0 } };
static const struct attrmap log_attrs[] = {
	{ "level", PB_K_LOG_LEVEL }, { "syslog", PB_K_SYSLOG }, { NULL, 0 } };
static const struct attrmap state_attrs[] = {
	{ "file", PB_K_STATE }, { "key-file", PB_K_KEY_FILE }, { NULL, 0 } };
static const struct attrmap run_attrs[] = { { "user", PB_K_USER }, { NULL, 0 } };
static const struct attrmap metrics_attrs[] = {
	{ "listen", PB_K_METRICS_LISTEN }, { NULL, 0 } };
static const struct attrmap smtp_attrs[] = {
	{ "upstream", PB_K_SMTP_UPSTREAM }, { "upstream-tls", PB_K_SMTP_UPSTREAM_TLS },
	{ "sent-copy", PB_K_SENT_COPY }, { "sent-folder", PB_K_SENT_FOLDER }, { NULL, 0 } };
/* <listen>, <smtp-listen> and <device> are applied by their own functions
 * (listen: its address goes to listen or listen-tls, imap-listen or
 * imap-listen-tls, smtp-listen or smtp-listen-tls by its protocol and tls;
 * smtp-listen, deprecated: as <listen protocol="smtp">; device: account and
 * name open a section). */
static const struct attrmap listen_attrs[] = { { NULL, 0 } };
static const struct attrmap device_attrs[] = {
	{ "folder", PB_K_FOLDER }, { "offer", PB_K_OFFER }, { "window", PB_K_WINDOW },
	{ "seen-on", PB_K_SEEN_ON }, { "dele", PB_K_DELE }, { "login-delay", PB_K_LOGIN_DELAY },
	{ NULL, 0 } };

static const struct elemdef elements[] = {
	{ "upstream", upstream_attrs, false },
	{ "listen", listen_attrs, true },
	{ "tls", tls_attrs, false },
	{ "auth", auth_attrs, false },
	{ "mailbox", mailbox_attrs, false },
	{ "limits", limits_attrs, false },
	{ "proxy", proxy_attrs, false },
	{ "trusted-proxy", trusted_proxy_attrs, true },
	{ "log", log_attrs, false },
	{ "state", state_attrs, false },
	{ "run", run_attrs, false },
	{ "device", device_attrs, true },
	{ "metrics", metrics_attrs, false },
	{ "smtp", smtp_attrs, false },
	{ "smtp-listen", listen_attrs, true },
};
#define N_ELEMENTS (sizeof(elements) / sizeof(elements[0]))

static const struct attrmap *find_attr(const struct attrmap *m, const char *name)
{
	for (; m->attr; m++)
		if (strcmp(m->attr, name) == 0)
			return m;
	return NULL;
}

struct walk {
	struct config_options *layer;
	struct problems *problems;
	xmlDocPtr schema;                 /* contrib/popbridge.rng, read as XML */
	unsigned line_of[PB_K_COUNT];     /* element line where each key was set */
	unsigned first_line[N_ELEMENTS];  /* where each element first appeared */
};

static void value_problem(struct walk *w, unsigned line, const char *elem,
    const char *attr, const char *err)
{
	char msg[PB_ERR_MAX + 80];
	snprintf(msg, sizeof(msg), "<%s %s=\"...\">: %s", elem, attr, err);
	add_problem(w->problems, line, false, msg);
}

/* An attribute's value, malloc'd by libxml2 (xmlFree), or NULL. */
static char *attr_value(xmlNodePtr node, const char *name)
{
	return (char *)xmlGetNoNsProp(node, (const xmlChar *)name);
}

static void problem_at(struct walk *w, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem_at(struct walk *w, unsigned line, const char *fmt, ...)
{
	char msg[PB_ERR_MAX + 80];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_problem(w->problems, line, false, msg);
}

static bool rng_is(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static bool rng_named(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)"name");
	bool same = v && strcmp((const char *)v, name) == 0;
	xmlFree(v);
	return same;
}

/* The schema's <element name="name"> pattern, or its <define name="name">
 * (for a <ref>); NULL when there is none. */
static xmlNodePtr rng_find(xmlDocPtr schema, const char *kind, const char *name)
{
	xmlNodePtr root = schema ? xmlDocGetRootElement(schema) : NULL;
	for (xmlNodePtr d = root ? root->children : NULL; d; d = d->next) {
		if (!rng_is(d, "define"))
			continue;
		if (strcmp(kind, "define") == 0 && rng_named(d, name))
			return d;
		for (xmlNodePtr e = d->children; e; e = e->next)
			if (strcmp(kind, "element") == 0 && rng_is(e, "element") && rng_named(e, name))
				return e;
	}
	return NULL;
}

/* The attributes the schema's pattern allows, through <ref>s; required:
 * not inside <optional> (or <zeroOrMore>, <choice>). */
struct rng_attr {
	xmlChar *name;
	bool required;
};
#define RNG_ATTRS_MAX 16

static size_t rng_attrs(xmlDocPtr schema, xmlNodePtr pattern, bool optional, int depth,
    struct rng_attr *out, size_t n)
{
	for (xmlNodePtr c = pattern->children; c && depth < 4; c = c->next) {
		if (rng_is(c, "attribute") && n < RNG_ATTRS_MAX) {
			out[n].name = xmlGetNoNsProp(c, (const xmlChar *)"name");
			out[n].required = !optional;
			n += out[n].name != NULL;
		} else if (rng_is(c, "ref")) {
			xmlChar *name = xmlGetNoNsProp(c, (const xmlChar *)"name");
			xmlNodePtr d = name ? rng_find(schema, "define", (const char *)name) : NULL;
			xmlFree(name);
			if (d)
				n = rng_attrs(schema, d, optional, depth + 1, out, n);
		} else if (rng_is(c, "optional") || rng_is(c, "zeroOrMore") || rng_is(c, "choice")) {
			n = rng_attrs(schema, c, true, depth + 1, out, n);
		} else if (rng_is(c, "group")) {
			n = rng_attrs(schema, c, optional, depth + 1, out, n);
		}
	}
	return n;
}

/* What the schema also says, said precisely: a second copy of a single
 * element (see struct elemdef), an unknown attribute, a missing one. The
 * attributes come from the schema itself (rng_attrs), not from a second
 * list: libxml2 reports only the first unknown attribute of an element and
 * does not name a missing one ("Element run failed to validate
 * attributes"); ours, on the same line, take the place of its messages.
 * Unknown elements are the schema's alone. false: do not apply it. */
static bool check_element(struct walk *w, xmlNodePtr node, size_t idx)
{
	const struct elemdef *def = &elements[idx];
	unsigned line = (unsigned)xmlGetLineNo(node);
	bool ok = true;
	if (!def->repeatable && w->first_line[idx]) {
		problem_at(w, line, "<%s> is given twice (first at line %u)", def->name,
		    w->first_line[idx]);
		ok = false;
	} else if (!w->first_line[idx]) {
		w->first_line[idx] = line;
	}
	xmlNodePtr pattern = rng_find(w->schema, "element", def->name);
	if (!pattern)
		return ok;
	struct rng_attr allowed[RNG_ATTRS_MAX];
	size_t n = rng_attrs(w->schema, pattern, false, 0, allowed, 0);
	for (xmlAttrPtr a = node->properties; a; a = a->next) {
		size_t i = 0;
		while (i < n && (a->ns || !xmlStrEqual(a->name, allowed[i].name)))
			i++;
		if (i == n)
			problem_at(w, line, "<%s>: unknown attribute '%s'", def->name,
			    (const char *)a->name);
	}
	for (size_t i = 0; i < n; i++) {
		if (allowed[i].required && !xmlHasNsProp(node, allowed[i].name, NULL)) {
			problem_at(w, line, "<%s>: the attribute '%s' is required", def->name,
			    (const char *)allowed[i].name);
			ok = false;
		}
		xmlFree(allowed[i].name);
	}
	return ok;
}

/* Apply every known attribute of node: to the layer (section == NULL) or to
 * a device section. The values are checked by the option table
 * (config_options_set: ranges, names, addresses), which says what is
 * allowed; the schema only says "a number". */
static void apply_attrs(struct walk *w, xmlNodePtr node, const struct elemdef *def,
    struct config_device_section *section)
{
	unsigned line = (unsigned)xmlGetLineNo(node);
	char err[PB_ERR_MAX];
	for (xmlAttrPtr a = node->properties; a; a = a->next) {
		const struct attrmap *m = a->ns ? NULL : find_attr(def->attrs, (const char *)a->name);
		if (!m)
			continue;  /* unknown: the schema reports it; or applied elsewhere */
		char *v = attr_value(node, (const char *)a->name);
		int rc = section ? config_section_set(section, m->key, v ? v : "", err, sizeof(err)) :
		    config_options_set(w->layer, m->key, v ? v : "", err, sizeof(err));
		if (rc != 0)
			value_problem(w, line, def->name, m->attr, err);
		else if (!section)
			w->line_of[m->key] = line;
		xmlFree(v);
	}
}

/* <listen protocol="pop3|imap|smtp" tls="no|yes">: the key of the flag
 * that names the same listener (--listen, --listen-tls, --imap-listen, ...).
 * The old <smtp-listen> is <listen protocol="smtp">, with a warning. */
static void apply_listen(struct walk *w, xmlNodePtr node, const char *elem)
{
	static const struct {
		const char *protocol;
		enum config_key plain, tls;
	} kinds[] = {
		{ "pop3", PB_K_LISTEN, PB_K_LISTEN_TLS },
		{ "imap", PB_K_IMAP_LISTEN, PB_K_IMAP_LISTEN_TLS },
		{ "smtp", PB_K_SMTP_LISTEN, PB_K_SMTP_LISTEN_TLS },
	};
	unsigned line = (unsigned)xmlGetLineNo(node);
	char err[PB_ERR_MAX];
	char *addr = attr_value(node, "address");
	char *tls = attr_value(node, "tls");
	char *proto = attr_value(node, "protocol");
	bool old_smtp = strcmp(elem, "smtp-listen") == 0;
	const char *want = old_smtp ? "smtp" : proto ? proto : "pop3";
	size_t i = 0;
	while (i < sizeof(kinds) / sizeof(kinds[0]) && strcmp(kinds[i].protocol, want) != 0)
		i++;
	bool yes = tls && strcmp(tls, "yes") == 0;
	if (old_smtp)
		add_entry(w->problems, line, false, true, PB_CONFIG_WARNING "<smtp-listen> is "
		    "deprecated: write <listen protocol=\"smtp\"> with the same address and tls");
	/* The schema allows these values too, but its message ("Invalid
	 * attribute tls for element listen") does not say what is expected. */
	if (tls && strcmp(tls, "yes") != 0 && strcmp(tls, "no") != 0)
		value_problem(w, line, elem, "tls", "expected yes or no");
	else if (i == sizeof(kinds) / sizeof(kinds[0]))
		value_problem(w, line, elem, "protocol", "expected pop3, imap or smtp");
	else if (config_options_set(w->layer, yes ? kinds[i].tls : kinds[i].plain,
	    addr ? addr : "", err, sizeof(err)) != 0)
		value_problem(w, line, elem, "address", err);
	else
		w->line_of[yes ? kinds[i].tls : kinds[i].plain] = line;
	xmlFree(addr);
	xmlFree(tls);
	xmlFree(proto);
}

/* A second section for the same device is refused here (by
 * config_options_new_section): names compare case-folded, which no schema
 * can say. */
static void apply_device(struct walk *w, xmlNodePtr node, const struct elemdef *def)
{
	unsigned line = (unsigned)xmlGetLineNo(node);
	char err[PB_ERR_MAX];
	char *account = attr_value(node, "account");
	char *name = attr_value(node, "name");
	struct config_device_section *s = NULL;
	if (!account || !name)
		snprintf(err, sizeof(err), "out of memory");
	else
		s = config_options_new_section(w->layer, account, name, line, err, sizeof(err));
	if (!s)
		problem_at(w, line, "<device>: %s", err);
	xmlFree(account);
	xmlFree(name);
	if (s)
		apply_attrs(w, node, def, s);
}

static void walk_document(struct walk *w, xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, "popbridge") != 0)
		return;  /* the schema reports it */
	for (xmlNodePtr n = root->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || n->ns)
			continue;
		for (size_t i = 0; i < N_ELEMENTS; i++) {
			if (strcmp((const char *)n->name, elements[i].name) != 0)
				continue;  /* an unknown element: the schema reports it */
			if (!check_element(w, n, i))
				break;
			if (elements[i].attrs == listen_attrs)
				apply_listen(w, n, elements[i].name);
			else if (elements[i].attrs == device_attrs)
				apply_device(w, n, &elements[i]);
			else
				apply_attrs(w, n, &elements[i], NULL);
			break;
		}
	}
}

/* The file as a whole: what config_options_finish() would refuse, and device
 * names that the file's own separator makes unreachable. Rules across
 * fields (cert needs key, the URL's scheme against upstream tls): a schema
 * checks each attribute on its own. */
static void check_whole(struct walk *w, unsigned root_line)
{
	char err[PB_ERR_MAX];
	struct config_options *l = w->layer;
	char sep = (l->set & PB_KEY_BIT(PB_K_DEVICE_SEPARATOR)) ? l->device_separator : '#';
	bool bad_device = false;
	for (size_t i = 0; i < l->n_devices; i++) {
		if (config_section_check_separator(&l->devices[i], sep, err, sizeof(err)) != 0) {
			add_problem(w->problems, l->devices[i].line, false, err);
			bad_device = true;
		}
	}
	if (bad_device || w->problems->errors > 0)
		return;

	struct config_options eff;
	enum config_key bad;
	config_options_init(&eff);
	if (config_options_merge(&eff, l, err, sizeof(err)) != 0) {
		add_problem(w->problems, 0, false, err);
	} else if (config_options_finish(&eff, false, &bad, err, sizeof(err)) != 0) {
		unsigned line = w->line_of[bad] ? w->line_of[bad] : root_line;
		add_problem(w->problems, line, false, err);
	}
	config_options_free(&eff);
}

/* ---- the schema and the whole load ----------------------------------------- */

static void validate(xmlDocPtr doc, struct problems *p)
{
	xmlRelaxNGParserCtxtPtr pctxt = xmlRelaxNGNewMemParserCtxt(config_schema,
	    (int)config_schema_len);
	xmlRelaxNGPtr schema = NULL;
	xmlRelaxNGValidCtxtPtr vctxt = NULL;
	if (pctxt) {
		xmlRelaxNGSetParserStructuredErrors(pctxt, xml_error, p);
		schema = xmlRelaxNGParse(pctxt);
	}
	if (schema)
		vctxt = xmlRelaxNGNewValidCtxt(schema);
	if (!vctxt) {
		add_problem(p, 0, false, "internal error: the built-in schema does not load");
	} else {
		xmlRelaxNGSetValidStructuredErrors(vctxt, xml_error, p);
		if (xmlRelaxNGValidateDoc(vctxt, doc) != 0 && p->errors == 0)
			add_problem(p, 0, true, "does not match the configuration schema");
	}
	xmlRelaxNGFreeValidCtxt(vctxt);
	xmlRelaxNGFree(schema);
	xmlRelaxNGFreeParserCtxt(pctxt);
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void) { xmlInitParser(); }

/* Parse buf[0..len) as the configuration named name into layer, noting
 * problems in p. */
static void parse_into(const char *name, const char *buf, size_t len,
    struct config_options *layer, struct problems *p)
{
	struct walk w;
	xmlDocPtr doc = NULL;
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();

	if (!ctxt)
		add_problem(p, 0, false, "out of memory");
	else
		doc = xmlCtxtReadMemory(ctxt, buf, (int)len, name, NULL,
		    XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA);
	if (ctxt && !ctxt->wellFormed && doc) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	if (ctxt && !doc && p->errors == 0)
		add_problem(p, 0, true, "not a well-formed XML document");
	xmlFreeParserCtxt(ctxt);
	if (doc && (doc->intSubset || doc->extSubset)) {
		add_problem(p, doctype_line(buf, len), false,
		    "a DOCTYPE is not allowed in the configuration");
	} else if (doc) {
		validate(doc, p);
		memset(&w, 0, sizeof(w));
		w.layer = layer;
		w.problems = p;
		w.schema = xmlReadMemory(config_schema, (int)config_schema_len, "popbridge.rng",
		    NULL, XML_PARSE_NONET);
		if (!w.schema)
			add_problem(p, 0, false, "internal error: the built-in schema does not load");
		walk_document(&w, doc);
		xmlFreeDoc(w.schema);
		xmlNodePtr root = xmlDocGetRootElement(doc);
		check_whole(&w, root ? (unsigned)xmlGetLineNo(root) : 0);
	}
	xmlFreeDoc(doc);
}

/* Load from a file (path) or from memory (buf, len); see file.h. */
static int load(const char *path, const char *mem, size_t memlen,
    struct config_options *layer, config_report_fn *report, void *arg)
{
	struct problems *p = calloc(1, sizeof(*p));
	size_t len = 0;
	char *buf = NULL;

	config_options_init(layer);
	if (!p) {
		report(arg, path, 0, "out of memory");
		return -1;
	}
	pthread_once(&xml_once, xml_init);
	/* libxml2 keeps the structured error handler per thread: install ours
	 * for the parse and put the previous one back. */
	xmlStructuredErrorFunc saved_fn = xmlStructuredError;
	void *saved_ctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(p, xml_error);

	if (mem == NULL)
		buf = read_bounded(path, &len, p);
	else if (memlen > PB_CONFIG_MAX)
		add_problem(p, 0, false, "larger than the most a configuration may be");
	if (buf != NULL)
		parse_into(path, buf, len, layer, p);
	else if (mem != NULL && memlen <= PB_CONFIG_MAX)
		parse_into(path, mem, memlen, layer, p);
	free(buf);
	xmlSetStructuredErrorFunc(saved_ctx, saved_fn);

	/* Overflow: the entries left out may be problems. */
	int rc = p->errors == 0 && !p->overflow ? 0 : -1;
	report_all(p, path, report, arg);   /* on success: the warnings */
	if (rc != 0) {
		config_options_free(layer);
		config_options_init(layer);
	}
	free(p);
	return rc;
}

int config_file_load(const char *path, struct config_options *layer,
    config_report_fn *report, void *arg)
{
	return load(path, NULL, 0, layer, report, arg);
}

int config_buffer_load(const char *name, const char *buf, size_t len,
    struct config_options *layer, config_report_fn *report, void *arg)
{
	return load(name, buf, len, layer, report, arg);
}
