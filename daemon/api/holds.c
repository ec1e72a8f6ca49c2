/*
 * holds.c: held decisions and their resolutions.
 *
 * A decision whose outcome is "hold" has red flags that a compliance
 * officer must resolve before shipping.  The resolution (release or
 * reject, by whom, why) is itself an audit entry that names the decision,
 * so the receipt chain of a released hold shows both entries.  Holds are
 * read from the signed entries themselves (SQLite's JSON functions over
 * the logged decisions), never from a separate table that could drift.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/api.h"
#include "tiergate/jcs.h"
#include "tiergate/util.h"

/* Held decisions with their resolution (if any), oldest first. */
static const char holds_sql[] =
    "SELECT d.decision_id, d.seq, d.time, d.payload, r.payload, r.time, "
    "r.seq, (SELECT count(*) FROM entries v WHERE v.kind = 'void' AND "
    "v.decision_id = d.decision_id) FROM entries d LEFT JOIN entries r ON "
    "r.kind = 'hold_resolution' AND r.decision_id = d.decision_id "
    "WHERE d.kind = 'decision' AND json_extract(d.payload, '$.outcome') = "
    "'hold' AND (?1 IS NULL OR d.decision_id = ?1) ORDER BY d.seq";

struct hctx {
	json_t *list;
	bool open_only;
};

static int
hold_row(void *ctx, int n, const char *const *c)
{
	struct hctx *h = ctx;
	json_t *d, *res = NULL, *o;
	const char *status = "open";
	bool nomem;

	if (n < 8 || c[0] == NULL || c[3] == NULL)
		return 0;
	if (c[4] != NULL) {
		res = api_json_loadb(c[4], strlen(c[4]), 0, NULL, &nomem);
		if (res == NULL && nomem)
			return -ENOMEM;
		if (res != NULL) {
			const char *how = json_string_value(json_object_get(res,
			    "resolution"));

			status = how != NULL && strcmp(how, "release") == 0 ?
			    "released" : "rejected";
			json_object_set_new(res, "time", json_string(c[5]));
			json_object_set_new(res, "seq",
			    json_integer(strtoll(c[6], NULL, 10)));
			json_object_del(res, "decision_id");
		}
	} else if (c[7] != NULL && strcmp(c[7], "0") != 0)
		status = "voided";
	if (h->open_only && strcmp(status, "open") != 0) {
		json_decref(res);
		return 0;
	}
	d = api_json_loadb(c[3], strlen(c[3]), 0, NULL, &nomem);
	if (d == NULL && nomem) {
		json_decref(res);
		return -ENOMEM;
	}
	o = json_pack("{s:s, s:I, s:s, s:O?, s:O?, s:O?, s:s, s:o?}",
	    "decision_id", c[0], "seq", (json_int_t)strtoll(c[1], NULL, 10),
	    "time", c[2], "reference", d ? json_object_get(d, "reference") :
	    NULL, "destination", d ? json_object_get(d, "destination") : NULL,
	    "red_flags", d ? json_object_get(d, "red_flags") : NULL,
	    "status", status, "resolution", res);
	json_decref(d);
	if (o == NULL || json_array_append_new(h->list, o) != 0)
		return -ENOMEM;
	return 0;
}

static json_t *
holds(struct tg_audit *a, struct audit_tx *tx, bool open_only,
    const char *id, struct tg_error *err)
{
	struct hctx h = { .list = json_array(), .open_only = open_only };
	const char *params[1] = { id };
	int rc;

	if (h.list == NULL)
		return NULL;
	rc = tx != NULL ? audit_tx_query(tx, holds_sql, params, 1, hold_row,
	    &h, err) : audit_query(a, holds_sql, params, 1, hold_row, &h, err);
	if (rc != 0) {
		json_decref(h.list);
		return NULL;
	}
	return h.list;
}

json_t *
api_holds(struct tg_audit *a, bool open_only, const char *id,
    struct tg_error *err)
{
	return holds(a, NULL, open_only, id, err);
}

int
api_hold_resolve(struct tg_audit *a, const char *decision_id, bool release,
    const char *reason, const char *officer, struct audit_receipt *receipt,
    struct tg_error *err)
{
	struct audit_tx *tx = NULL;
	struct audit_in in;
	json_t *list = NULL, *h, *p = NULL;
	const char *status;
	char *pay = NULL;
	int rc;

	if (reason == NULL || reason[0] == '\0' || officer == NULL ||
	    officer[0] == '\0')
		return tg_error_set(err, TG_EINVAL, "a resolution needs a "
		    "reason and an officer");
	rc = audit_tx_begin(a, &tx, err);
	if (rc != 0)
		return rc;
	/* Read inside the write transaction, so two officers cannot both
	 * resolve the same hold. */
	list = holds(a, tx, false, decision_id, err);
	h = json_array_get(list, 0);
	if (h == NULL) {
		rc = tg_error_set(err, TG_ENOTFOUND, "no held decision '%s'",
		    decision_id);
		goto fail;
	}
	status = json_string_value(json_object_get(h, "status"));
	if (status == NULL || strcmp(status, "open") != 0) {
		rc = tg_error_set(err, TG_EINVAL, "decision '%s' is %s "
		    "already", decision_id, status ? status : "closed");
		goto fail;
	}
	p = json_pack("{s:s, s:s, s:s, s:s}", "decision_id", decision_id,
	    "resolution", release ? "release" : "reject", "reason", reason,
	    "officer", officer);
	pay = p != NULL ? jcs_dumps(p) : NULL;
	if (pay == NULL) {
		rc = tg_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	memset(&in, 0, sizeof(in));
	in.kind = "hold_resolution";
	in.decision_id = decision_id;
	in.request = "null";
	in.request_len = 4;
	in.payload = pay;
	in.payload_len = strlen(pay);
	rc = audit_tx_append(tx, &in, NULL, 0, NULL, err);
	if (rc != 0)
		goto fail;
	json_decref(list);
	json_decref(p);
	free(pay);
	return audit_tx_commit(tx, receipt, 1, err);
fail:
	json_decref(list);
	json_decref(p);
	free(pay);
	audit_tx_abort(tx);
	return rc;
}
