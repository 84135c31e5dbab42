/*
 * signal: sends the signal named (SIGHUP, HUP, hup, a number, RTMIN+n) to this process;
 * errors for names that are not signals.
 */
#include "montest.h"

#include <signal.h>

static volatile sig_atomic_t got[65];

static void handler(int sig)
{
    got[sig]++;
}

static void catch(int sig)
{
    struct sigaction sa = {.sa_handler = handler};
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(sig, &sa, NULL), 0);
}

/* The signal goes to the process: it may be handled on another thread a moment later. */
static void wait_for(int sig, int n)
{
    for (int i = 0; i < 1000 && got[sig] < n; i++)
        curio_sleep(0.001);
    cr_assert_eq(got[sig], n, "signal %d arrived %d times, not %d", sig, (int)got[sig], n);
}

static long signal_main(void *arg)
{
    (void)arg;
    catch(SIGUSR1);
    catch(SIGUSR2);
    catch(SIGHUP);
    catch(SIGRTMIN + 2);
    mon_conn *c = mon_open();
    char want[128];
    snprintf(want, sizeof want, "Sending SIGHUP (%d) to process %ld\n", SIGHUP, (long)getpid());
    cr_assert_str_eq(mon_cmd(c, "signal SIGHUP"), want);
    wait_for(SIGHUP, 1);
    snprintf(want, sizeof want, "Sending SIGUSR1 (%d) to process %ld\n", SIGUSR1,
             (long)getpid());
    cr_assert_str_eq(mon_cmd(c, "signal usr1"), want);
    wait_for(SIGUSR1, 1);
    char cmd[32];
    snprintf(cmd, sizeof cmd, "signal %d", SIGUSR2);
    mon_cmd(c, cmd);
    wait_for(SIGUSR2, 1);
    snprintf(want, sizeof want, "Sending SIGRTMIN+2 (%d) to process %ld\n", SIGRTMIN + 2,
             (long)getpid());
    cr_assert_str_eq(mon_cmd(c, "signal SIGRTMIN+2"), want);
    wait_for(SIGRTMIN + 2, 1);
    snprintf(want, sizeof want, "Sending SIGHUP (%d) to process %ld\n", SIGHUP, (long)getpid());
    cr_assert_str_eq(mon_cmd(c, "si Hup"), want, "a prefix of the command, any case");
    wait_for(SIGHUP, 2);

    cr_assert_str_eq(mon_cmd(c, "signal SIGNOPE"), "Error: unknown signal 'SIGNOPE'\n");
    cr_assert_str_eq(mon_cmd(c, "signal 0"), "Error: unknown signal '0'\n");
    cr_assert_str_eq(mon_cmd(c, "signal 100"), "Error: unknown signal '100'\n");
    cr_assert_str_eq(mon_cmd(c, "signal RTMIN-1"), "Error: unknown signal 'RTMIN-1'\n");
    cr_assert_str_eq(mon_cmd(c, "signal"), "Error: usage: signal signame\n");
    cr_assert_eq(got[SIGUSR1] + got[SIGUSR2] + got[SIGHUP], 4, "nothing else was sent");
    mon_close(c);
    return 0;
}

Test(signal, delivers_to_this_process)
{
    cr_assert_eq(run_monitored(signal_main, NULL), 0);
}
