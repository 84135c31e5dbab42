#include "testutil.h"
Test(placeholder, ring) { cr_assert(1); }
