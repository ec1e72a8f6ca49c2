/*
 * query.h: the fact model (contract.md section 1): one transaction as the
 * engine sees it, after decoding and validation.
 *
 * These are plain data structs, not opaque types: the decoders (JSON in
 * daemon/api, CSV rows in the batch reader) fill them and the evaluator
 * reads them, and both sides need every field.  Absent numbers are NAN,
 * absent tri-state booleans are -1, absent countries TG_CC_NONE.  All
 * strings and arrays live in the arena the decoder was given; the query
 * owns nothing and is released with that arena.
 */
#ifndef TIERGATE_QUERY_H
#define TIERGATE_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "tiergate/util.h"

#define TG_ITEMS_MAX 1000
#define TG_REFERENCE_MAX 128
#define TG_SYNTH_MAX 64

enum tg_veu_type { TG_VEU_NONE, TG_VEU_UNIVERSAL, TG_VEU_NATIONAL };

struct tg_veu {
	enum tg_veu_type type;
	double tier1_share;		/* universal: after this shipment */
	double us_share;
	double destination_share;
	tg_cc country;			/* national */
	double installed_tpp;		/* national: before this shipment */
};

struct tg_party {
	const char *id;			/* NULL when absent */
	const char *name;		/* NULL when absent */
	tg_cc country;			/* defaults applied by the decoder */
	tg_cc headquarters;
	tg_cc ultimate_parent;
	struct tg_veu veu;
};

enum tg_item_kind {
	TG_ITEM_CHIP,
	TG_ITEM_SYSTEM,
	TG_ITEM_MODEL_WEIGHTS,
	TG_ITEM_COMPUTE_SERVICE,
};

enum tg_purpose { TG_PURPOSE_NONE, TG_PURPOSE_TRAINING, TG_PURPOSE_INFERENCE };

/* One synthetic-data generator (4E091 technical note 3). */
struct tg_synth {
	double share;			/* share of training operations, 0..1 */
	double generator_training_operations;
	double generation_operations;
	int generator_published;	/* 0, 1, or -1 absent */
};

struct tg_item {
	enum tg_item_kind kind;
	long long quantity;		/* >= 1, default 1 */
	const char *description;
	const char *license;		/* license number cited, or NULL */

	/* chip and system */
	const char *product;		/* catalog id, or NULL */
	double tpp;			/* per chip */
	double die_area_mm2;
	double performance_density;
	int datacenter;			/* 0, 1, or -1 absent (default 1) */
	long long chips_per_unit;	/* system only; 0 otherwise */
	double memory_bandwidth_gbs;	/* optional: DRAM bandwidth, GB/s */

	/* model_weights */
	double training_operations;
	int published;			/* 0, 1, or -1 absent */
	bool has_base_model;
	int base_published;
	double base_training_operations;
	double additional_operations;
	const struct tg_synth *synth;	/* object or array in JSON */
	size_t nsynth;

	/* compute_service */
	enum tg_purpose purpose;
	tg_cc location;
};

struct tg_query {
	const char *reference;		/* NULL when absent */
	tg_date date;			/* decoder fills today when absent */
	bool date_given;
	tg_cc destination;		/* as given (HK stays HK here) */
	struct tg_party consignee;
	struct tg_party end_user;	/* copy of consignee when absent */
	bool end_user_given;
	const struct tg_item *items;
	size_t nitems;
	bool dry_run;
	/* Extensions (optional in JSON): the country the items leave from
	 * (default US) and whether the exporter holds the certifications
	 * that 91 FR 1684 asks for (default false). */
	tg_cc export_from;
	bool certifications;
};

const char *item_kind_name(enum tg_item_kind k);

#endif
