/*
 * decision.c: releasing a decision (decision.h).
 *
 * A decision is built by eval_decide() inside its own arena: the struct
 * itself, its arrays and its strings all live there, except the strings
 * borrowed from the rule pack, which the decision keeps referenced.  So
 * freeing is dropping both, in this order: the fields must be read
 * before the arena that holds the struct goes away.
 */
#include <stddef.h>

#include "tiergate/decision.h"
#include "tiergate/engine.h"
#include "tiergate/util.h"

void
decision_free(struct tg_decision *d)
{
	struct tg_arena *arena;
	struct tg_pack *pack;

	if (d == NULL)
		return;
	arena = d->arena;
	pack = d->pack;
	arena_free(arena);	/* d itself is gone from here on */
	pack_unref(pack);
}
