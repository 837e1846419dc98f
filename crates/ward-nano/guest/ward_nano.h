/* ward_nano.h — the guest interface of Ward nanoprocesses (import module "ward:nano").
 *
 * A nanoprocess is a WebAssembly instance with its own memory, mailbox and capabilities, run by
 * ward-nano's scheduler. It exports `main` (or `_start`), taking and returning nothing, and its
 * linear memory as "memory". Every function below checks its arguments against the caller's own
 * memory and authority and answers a negative WARD_E_* code rather than trapping.
 *
 * Process ids are 64-bit; 0 is "no process". A process may message only processes whose handles
 * it holds: itself, its parent, the children it spawned, handles the host granted it, and
 * handles received in messages (ward_send_cap). Tags >= 0 belong to guests; negative tags are
 * the runtime's notices (WARD_TAG_*).
 *
 * Bounds (defaults; the embedder may change them): a message is at most 64 KiB; a mailbox holds
 * at most 1024 messages and 4 MiB; a process holds at most 4096 handles and sets up at most 1024
 * links and monitors; at most 64 live children; a template name is at most 128 bytes.
 */
#ifndef WARD_NANO_H
#define WARD_NANO_H

#include <stdint.h>

#define WARD_IMPORT(name) __attribute__((import_module("ward:nano"), import_name(name)))

typedef uint64_t ward_pid;

/* Error codes. */
#define WARD_E_TIMEOUT      (-1) /* receive: nothing matching arrived in time */
#define WARD_E_TOO_BIG      (-2) /* message larger than the buffer (it stays queued) or the limit */
#define WARD_E_FAULT        (-3) /* pointer/length outside the caller's memory */
#define WARD_E_PERM         (-4) /* the caller does not hold that handle or template */
#define WARD_E_NO_PROC      (-5) /* the process has ended */
#define WARD_E_FULL         (-6) /* receiver's mailbox, children, process tree or links full */
#define WARD_E_NO_TEMPLATE  (-7) /* no template of that name */
#define WARD_E_SPAWN_FAILED (-8) /* the child could not be instantiated */
#define WARD_E_INVAL        (-9) /* negative tag, linking to itself */

/* Receive filters and the runtime's notices. A notice's payload: u32 kind (0 normal, 1 exit,
 * 2 trap, 3 killed, 4 linked, 5 deadline, 6 noproc, 7 error), i32 code (exit code), u64 pid of
 * the process that ended, then up to 200 bytes of UTF-8 reason; its sender is that pid (and the
 * receiver now holds its handle). */
#define WARD_TAG_ANY       (-1)
#define WARD_TAG_DOWN      (-2) /* a monitored (or supervised) process ended */
#define WARD_TAG_EXIT      (-3) /* a linked process ended, and this process traps exits */
#define WARD_TAG_RESTARTED (-4) /* a supervised child crashed and was restarted (same pid) */

/* This process's pid; its parent's (0 for a process the host spawned). */
WARD_IMPORT("self") ward_pid ward_self(void);
WARD_IMPORT("parent") ward_pid ward_parent(void);

/* Spawns a process from the template `name` (which this process must be allowed to spawn). The
 * child's capabilities are its template's intersected with this process's; its limits are never
 * above this process's. Returns its pid (and this process holds its handle) or a WARD_E_* code. */
WARD_IMPORT("spawn") int64_t ward_spawn(const char *name, int32_t name_len);

/* As ward_spawn, and the child is restarted (same pid, fresh instance, empty mailbox) when it
 * ends abnormally, at most max_restarts times in any window_ms; this process gets
 * WARD_TAG_RESTARTED for each restart and WARD_TAG_DOWN when it ends for good. */
WARD_IMPORT("supervise")
int64_t ward_supervise(const char *name, int32_t name_len, int32_t max_restarts, int32_t window_ms);

/* Copies len bytes at ptr into the mailbox of `to` with `tag` (>= 0). ward_send_cap also hands
 * over the handle `cap` (which this process must hold; its own pid is allowed). 0 or WARD_E_*. */
WARD_IMPORT("send") int32_t ward_send(ward_pid to, const void *ptr, int32_t len, int32_t tag);
WARD_IMPORT("send_cap")
int32_t ward_send_cap(ward_pid to, const void *ptr, int32_t len, int32_t tag, ward_pid cap);

/* Takes the oldest message whose tag is tag_filter (or any, with WARD_TAG_ANY) into buf and
 * returns its length. timeout_ms: -1 waits forever, 0 does not wait. While it waits the process
 * holds no thread. WARD_E_TIMEOUT, WARD_E_TOO_BIG (the message stays), WARD_E_FAULT. */
WARD_IMPORT("receive") int32_t ward_receive(void *buf, int32_t cap, int32_t timeout_ms, int32_t tag_filter);

/* About the last message received: its tag, sender, and the handle it carried (0: none). */
WARD_IMPORT("msg_tag") int32_t ward_msg_tag(void);
WARD_IMPORT("msg_sender") ward_pid ward_msg_sender(void);
WARD_IMPORT("msg_cap") ward_pid ward_msg_cap(void);

/* Links (both ways: when either ends abnormally the other is killed, unless it traps exits and
 * then gets WARD_TAG_EXIT) or monitors (this process gets WARD_TAG_DOWN when pid ends; at once,
 * with kind noproc, if it already has). 0 or WARD_E_*. */
WARD_IMPORT("link") int32_t ward_link(ward_pid pid);
WARD_IMPORT("monitor") int32_t ward_monitor(ward_pid pid);
WARD_IMPORT("trap_exit") void ward_trap_exit(int32_t on);

/* Ends this process (0: normally). Its children end with it. */
WARD_IMPORT("exit") __attribute__((noreturn)) void ward_exit(int32_t code);

#endif
