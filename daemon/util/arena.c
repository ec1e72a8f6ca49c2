/*
 * arena.c: a bump allocator for per-request memory (after unbound and
 * Knot DNS): many small allocations, released together.
 *
 * Invariants: every pointer handed out is 16-byte aligned (block data
 * starts aligned and every size is rounded up to 16); the bytes of all
 * blocks together (headers included) never exceed the arena's cap, so a
 * hostile request can use at most cap bytes; the block created by
 * arena_new() survives arena_clear().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/util.h"

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_CAP ((size_t)64 << 20)
#define ARENA_FIRST_BLOCK ((size_t)16 << 10)
#define ARENA_MAX_BLOCK ((size_t)1 << 20)

struct arena_block {
	struct arena_block *next;
	unsigned char *data;		/* aligned start of the usable bytes */
	size_t size;			/* usable bytes */
	size_t used;
	size_t cost;			/* bytes charged against the cap */
};

struct tg_arena {
	struct arena_block *head;	/* current block, newest first */
	struct arena_block *first;	/* kept by arena_clear */
	size_t cap;
	size_t total;			/* sum of the blocks' cost */
	size_t next_size;		/* usable size of the next block */
};

static size_t
round_up(size_t n)
{
	return (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
}

/* Header plus slack to align the data plus the data itself. */
static size_t
block_cost(size_t size)
{
	return sizeof(struct arena_block) + (ARENA_ALIGN - 1) + size;
}

static struct arena_block *
block_new(size_t size)
{
	struct arena_block *blk;
	uintptr_t p;

	blk = malloc(block_cost(size));
	if (blk == NULL)
		return NULL;
	p = (uintptr_t)(blk + 1);
	p = (p + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1);
	blk->next = NULL;
	blk->data = (unsigned char *)p;
	blk->size = size;
	blk->used = 0;
	blk->cost = block_cost(size);
	return blk;
}

struct tg_arena *
arena_new(size_t cap)
{
	struct tg_arena *a;
	size_t first;

	if (cap == 0)
		cap = ARENA_DEFAULT_CAP;
	first = ARENA_FIRST_BLOCK;
	while (first > ARENA_ALIGN && block_cost(first) > cap)
		first /= 2;
	if (block_cost(first) > cap) {
		/* A cap too small to hold even one block is a caller bug. */
		errno = EINVAL;
		return NULL;
	}
	/* One allocation for the arena and its first block: a request that
	 * fits in it costs one malloc and one free. */
	a = malloc(round_up(sizeof(*a)) + block_cost(first));
	if (a == NULL)
		return NULL;
	memset(a, 0, sizeof(*a));
	a->cap = cap;
	{
		struct arena_block *blk = (struct arena_block *)(void *)
		    ((unsigned char *)a + round_up(sizeof(*a)));
		uintptr_t p = (uintptr_t)(blk + 1);

		p = (p + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1);
		blk->next = NULL;
		blk->data = (unsigned char *)p;
		blk->size = first;
		blk->used = 0;
		blk->cost = block_cost(first);
		a->first = blk;
	}
	a->head = a->first;
	a->total = a->first->cost;
	a->next_size = first * 2;
	return a;
}

void *
arena_alloc(struct tg_arena *a, size_t size)
{
	struct arena_block *blk;
	size_t bsize, room;
	void *p;

	if (size == 0)
		size = 1;
	if (size > SIZE_MAX / 2)
		return NULL;
	size = round_up(size);

	blk = a->head;
	if (blk->size - blk->used >= size) {
		p = blk->data + blk->used;
		blk->used += size;
		return p;
	}

	room = a->cap - a->total;
	bsize = a->next_size;
	if (bsize < size || size > bsize / 4)
		/* A large allocation gets a block of its own. */
		bsize = size;
	if (block_cost(bsize) > room) {
		if (block_cost(size) > room)
			return NULL;
		bsize = size;
	}
	blk = block_new(bsize);
	if (blk == NULL)
		return NULL;
	a->total += blk->cost;
	blk->used = size;
	if (bsize == size && a->head->size - a->head->used > 0) {
		/* Keep bumping in the current block, which still has room. */
		blk->next = a->head->next;
		a->head->next = blk;
	} else {
		blk->next = a->head;
		a->head = blk;
		if (a->next_size < ARENA_MAX_BLOCK)
			a->next_size *= 2;
	}
	return blk->data;
}

void *
arena_zalloc(struct tg_arena *a, size_t size)
{
	void *p;

	p = arena_alloc(a, size);
	if (p != NULL)
		memset(p, 0, size);
	return p;
}

char *
arena_strndup(struct tg_arena *a, const char *s, size_t n)
{
	char *p;
	size_t len;

	if (s == NULL)
		return NULL;
	len = strnlen(s, n);
	p = arena_alloc(a, len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
arena_strdup(struct tg_arena *a, const char *s)
{
	if (s == NULL)
		return NULL;
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct tg_arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = arena_alloc(a, (size_t)n + 1);
	if (p == NULL)
		return NULL;
	va_start(ap, fmt);
	n = vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	return p;
}

void
arena_clear(struct tg_arena *a)
{
	struct arena_block *blk, *next;

	for (blk = a->head; blk != NULL; blk = next) {
		next = blk->next;
		if (blk != a->first)
			free(blk);
	}
	a->first->next = NULL;
	a->first->used = 0;
	a->head = a->first;
	a->total = a->first->cost;
	a->next_size = a->first->size * 2;
}

void
arena_free(struct tg_arena *a)
{
	struct arena_block *blk, *next;

	if (a == NULL)
		return;
	for (blk = a->head; blk != NULL; blk = next) {
		next = blk->next;
		if (blk != a->first)	/* lives inside *a */
			free(blk);
	}
	free(a);
}
