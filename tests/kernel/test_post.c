#include "testutil.h"
Test(placeholder, post) { cr_assert(1); }
