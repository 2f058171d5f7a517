// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include "budget.h"

Test(budget, a_user_holds_a_share_and_all_together_the_limit)
{
	struct mw_budget b;
	struct mw_budget_owner *alice, *alice2, *bob, *carol;
	size_t a = 0, a2 = 0, bb = 0, cc = 0;

	mw_budget_init(&b, 1000, 400);
	alice = mw_budget_join(&b, 1000);
	alice2 = mw_budget_join(&b, 1000);
	bob = mw_budget_join(&b, 1001);
	carol = mw_budget_join(&b, 70000);
	cr_assert(alice && alice2 && bob && carol);
	cr_assert_eq(alice, alice2, "one account per user, whatever holds");

	cr_assert(mw_budget_allows(&b, alice, 400));
	cr_assert_not(mw_budget_allows(&b, alice, 401));
	mw_budget_move(&b, alice, &a, 300);
	/* alice's second connection shares her 400 */
	cr_assert(mw_budget_allows(&b, alice2, 100));
	cr_assert_not(mw_budget_allows(&b, alice2, 101));
	mw_budget_move(&b, alice2, &a2, 100);
	cr_assert_eq(alice->used, 400);
	/* bob's share is his own */
	cr_assert(mw_budget_allows(&b, bob, 400));
	mw_budget_move(&b, bob, &bb, 400);
	/* 800 held: carol may have the 200 left, not her whole share */
	cr_assert(mw_budget_allows(&b, carol, 200));
	cr_assert_not(mw_budget_allows(&b, carol, 201));
	cr_assert_eq(b.used, 800);

	/* a recount is recorded even past the limits; growth is refused */
	mw_budget_move(&b, carol, &cc, 300);
	cr_assert_eq(b.used, 1100);
	cr_assert_not(mw_budget_allows(&b, carol, 0));
	cr_assert_not(mw_budget_allows(&b, bob, 0));
	/* but a user holding less than the reserve (1000 / 64) is not
	 * refused for what the others hold */
	{
		struct mw_budget_owner *dave = mw_budget_join(&b, 4);
		size_t dd = 0;

		cr_assert_eq(b.reserve, 15);
		cr_assert(mw_budget_allows(&b, dave, 15));
		cr_assert_not(mw_budget_allows(&b, dave, 16));
		mw_budget_move(&b, dave, &dd, 10);
		cr_assert(mw_budget_allows(&b, dave, 5));
		cr_assert_not(mw_budget_allows(&b, dave, 6));
		mw_budget_leave(&b, dave, dd);
	}
	mw_budget_move(&b, carol, &cc, 100);
	cr_assert(mw_budget_allows(&b, carol, 100));

	/* leaving gives the bytes back; the last holder takes the account */
	mw_budget_leave(&b, alice, a);
	cr_assert_eq(alice2->used, 100);
	cr_assert(mw_budget_allows(&b, alice2, 300));
	mw_budget_leave(&b, alice2, a2);
	mw_budget_leave(&b, bob, bb);
	mw_budget_leave(&b, carol, cc);
	cr_assert_eq(b.used, 0);
	for (size_t i = 0; i < MW_BUDGET_BUCKETS; i++)
		cr_assert_null(b.bucket[i]);
	mw_budget_free(&b);
}

Test(budget, many_users_share_buckets)
{
	static struct mw_budget_owner *o[2000];
	struct mw_budget b;

	mw_budget_init(&b, 1 << 20, 1 << 18);
	for (uint32_t i = 0; i < 2000; i++) {
		o[i] = mw_budget_join(&b, i);
		cr_assert_not_null(o[i]);
		cr_assert_eq(o[i]->owner, i);
	}
	for (uint32_t i = 0; i < 2000; i++)
		cr_assert_eq(mw_budget_join(&b, i), o[i]);
	for (uint32_t i = 0; i < 2000; i++) {
		mw_budget_leave(&b, o[i], 0);
		mw_budget_leave(&b, o[i], 0);
	}
	for (size_t i = 0; i < MW_BUDGET_BUCKETS; i++)
		cr_assert_null(b.bucket[i]);
	mw_budget_free(&b);
}
