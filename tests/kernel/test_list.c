/*
 * kernel/list.h: the intrusive doubly linked list every layer uses. No kernel needed: the
 * list is plain memory.
 */
#include "testutil.h"
#include "list.h"

#include <stdlib.h>

typedef struct rec {
    int id;
    curio__list_node node;       /* not first: entry() must subtract the offset */
} rec;

/* The ids of l, first to last, checked against the prev links the other way round. */
static const char *ids(const curio__list *l)
{
    static char buf[256];
    char back[256];
    buf[0] = back[0] = 0;
    size_t n = 0, m = 0;
    curio__list_foreach_entry(r, l, rec, node)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", n ? " " : "", r->id);
    int tail_to_head[64], k = 0;
    for (curio__list_node *x = curio__list_last(l); x; x = curio__list_prev(x))
        tail_to_head[k++] = curio__list_entry(x, rec, node)->id;
    while (k--)
        m += (size_t)snprintf(back + m, sizeof back - m, "%s%d", m ? " " : "",
                              tail_to_head[k]);
    cr_assert_str_eq(buf, back, "forward and backward walks differ");
    cr_assert_eq(curio__list_empty(l), n == 0);
    return buf;
}

Test(list, all_zero_is_empty)
{
    curio__list l = {0};
    static curio__list s;
    cr_assert(curio__list_empty(&l));
    cr_assert(curio__list_empty(&s));
    cr_assert_null(curio__list_first(&l));
    cr_assert_null(curio__list_last(&l));
    cr_assert_null(curio__list_pop_front(&l));
    cr_assert_null(curio__list_entry(curio__list_first(&l), rec, node), "NULL stays NULL");
    curio__list_foreach(n, &l)
        cr_assert_fail("an empty list has no node %p", (void *)n);
    curio__list_foreach_entry_safe(r, &l, rec, node)
        cr_assert_fail("an empty list has no record %d", r->id);
    rec a = {.id = 1};
    curio__list_push_back(&l, &a.node);
    curio__list_init(&l);
    cr_assert(curio__list_empty(&l));
}

Test(list, push_back_and_front_keep_order)
{
    curio__list l = {0};
    rec r[5] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}, {.id = 4}};
    curio__list_push_back(&l, &r[2].node);
    curio__list_push_back(&l, &r[3].node);
    curio__list_push_front(&l, &r[1].node);
    curio__list_push_back(&l, &r[4].node);
    curio__list_push_front(&l, &r[0].node);
    cr_assert_str_eq(ids(&l), "0 1 2 3 4");
    cr_assert_eq(curio__list_entry(curio__list_first(&l), rec, node), &r[0]);
    cr_assert_eq(curio__list_entry(curio__list_last(&l), rec, node), &r[4]);
    cr_assert_eq(curio__list_next(&r[1].node), &r[2].node);
    cr_assert_eq(curio__list_prev(&r[1].node), &r[0].node);
    cr_assert_null(curio__list_next(&r[4].node));
    cr_assert_null(curio__list_prev(&r[0].node));
}

Test(list, remove_from_anywhere)
{
    curio__list l = {0};
    rec r[5] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}, {.id = 4}};
    for (int i = 0; i < 5; i++)
        curio__list_push_back(&l, &r[i].node);
    curio__list_remove(&l, &r[2].node); /* the middle */
    cr_assert_str_eq(ids(&l), "0 1 3 4");
    curio__list_remove(&l, &r[0].node); /* the head */
    cr_assert_str_eq(ids(&l), "1 3 4");
    curio__list_remove(&l, &r[4].node); /* the tail */
    cr_assert_str_eq(ids(&l), "1 3");
    curio__list_push_back(&l, &r[2].node); /* a removed node goes on again */
    cr_assert_str_eq(ids(&l), "1 3 2");
    curio__list_remove(&l, &r[3].node);
    curio__list_remove(&l, &r[1].node);
    cr_assert_str_eq(ids(&l), "2");
    curio__list_remove(&l, &r[2].node); /* the only one */
    cr_assert_str_eq(ids(&l), "");
    cr_assert_null(l.head);
    cr_assert_null(l.tail);
}

Test(list, pop_front_is_fifo_with_push_back)
{
    curio__list l = {0};
    rec r[3] = {{.id = 7}, {.id = 8}, {.id = 9}};
    for (int i = 0; i < 3; i++)
        curio__list_push_back(&l, &r[i].node);
    for (int i = 0; i < 3; i++) {
        rec *got = curio__list_entry(curio__list_pop_front(&l), rec, node);
        cr_assert_eq(got, &r[i]);
    }
    cr_assert(curio__list_empty(&l));
    cr_assert_null(curio__list_entry(curio__list_pop_front(&l), rec, node));
}

/* The safe walk reads the next record first: the body may unlink and free the current
 * one (ASan checks that nothing reads it afterwards). */
Test(list, safe_foreach_lets_the_body_free_the_record)
{
    curio__list l = {0};
    for (int i = 0; i < 10; i++) {
        rec *r = malloc(sizeof *r);
        cr_assert_not_null(r);
        r->id = i;
        curio__list_push_back(&l, &r->node);
    }
    int seen = 0;
    curio__list_foreach_entry_safe(r, &l, rec, node) {
        cr_assert_eq(r->id, seen++);
        if (r->id % 3 == 0) {
            curio__list_remove(&l, &r->node);
            free(r);
        }
    }
    cr_assert_eq(seen, 10);
    cr_assert_str_eq(ids(&l), "1 2 4 5 7 8");
    curio__list_foreach_entry_safe(r, &l, rec, node) {
        curio__list_remove(&l, &r->node);
        free(r);
    }
    cr_assert(curio__list_empty(&l));
}

Test(list, foreach_visits_every_node_once_in_order)
{
    curio__list l = {0};
    rec r[4] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}};
    for (int i = 0; i < 4; i++)
        curio__list_push_back(&l, &r[i].node);
    int i = 0;
    curio__list_foreach(n, &l) {
        cr_assert_eq(n, &r[i].node);
        i++;
    }
    cr_assert_eq(i, 4);
    const curio__list *cl = &l; /* walks over a const list */
    i = 0;
    curio__list_foreach_entry(c, cl, const rec, node)
        cr_assert_eq(c->id, i++);
    cr_assert_eq(i, 4);
}

/* A node is on one list at a time: moved from one to the other (as a task's node moves
 * from the kernel's live tasks to its zombies). */
Test(list, a_node_moves_between_lists)
{
    curio__list live = {0}, zombies = {0};
    rec r[3] = {{.id = 0}, {.id = 1}, {.id = 2}};
    for (int i = 0; i < 3; i++)
        curio__list_push_back(&live, &r[i].node);
    curio__list_remove(&live, &r[1].node);
    curio__list_push_front(&zombies, &r[1].node);
    curio__list_remove(&live, &r[0].node);
    curio__list_push_front(&zombies, &r[0].node);
    cr_assert_str_eq(ids(&live), "2");
    cr_assert_str_eq(ids(&zombies), "0 1");
}
