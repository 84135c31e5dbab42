/* placeholder */
#include "nettest.h"
