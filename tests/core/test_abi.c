/* gst-ringkernel: the shared-memory ABI, checked at run time.
 *
 * rk_abi.h asserts its layout at compile time against its own macros; this test checks every size and
 * offset against literal numbers, checks the constants and enum values that travel in shared memory,
 * prints the RK_ABI_LAYOUT table (so that a device-side test built by another compiler can be compared
 * line by line), and checks that freshly laid-out rings and control blocks have their reserved bytes zero.
 */
#include <stddef.h>
#include <stdint.h>

#include "rk_abi.h"
#include "rk_actor.h"
#include "rk_backend.h"
#include "rk_handlers.h"
#include "rk_ring.h"
#include "rk_test.h"

#define CHECK_OFF(type, field, expected) CHECK_EQ_U (offsetof (type, field), (expected))
#define CHECK_SIZE(type, expected) CHECK_EQ_U (sizeof (type), (expected))
#define CHECK_FIELD_SIZE(type, field, expected) CHECK_EQ_U (sizeof (((type *) 0)->field), (expected))

static int
all_zero (const void *p, size_t n)
{
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i])
      return 0;
  return 1;
}

static void
test_constants (void)
{
  SECTION ("constants and enum values");
  CHECK_EQ_U (RK_ABI_VERSION, 4);
  CHECK_EQ_U (RK_CONTROL_MAGIC, 0x314b4352u);
  CHECK (memcmp (&(uint32_t) { RK_CONTROL_MAGIC }, "RCK1", 4) == 0); /* little endian host */
  CHECK_EQ_U (RK_CHECKPOINT_MAGIC, 0x50434b52u);
  CHECK (memcmp (&(uint32_t) { RK_CHECKPOINT_MAGIC }, "RKCP", 4) == 0);
  CHECK_EQ_U (RK_RECORD_SIZE, 64);
  CHECK_EQ_U (RK_LINE_SIZE, 128);
  CHECK_EQ_U (RK_INLINE_MAX, 32);
  CHECK_EQ_U (RK_MAX_PARAMS, 8);
  CHECK_EQ_U (RK_ARENA_ALIGN, 256);

  CHECK_EQ_U (RK_CMD_PROCESS, 1);
  CHECK_EQ_U (RK_CMD_SET_PARAM, 2);
  CHECK_EQ_U (RK_CMD_PAUSE, 3);
  CHECK_EQ_U (RK_CMD_RESUME, 4);
  CHECK_EQ_U (RK_CMD_DRAIN, 5);
  CHECK_EQ_U (RK_CMD_SNAPSHOT, 6);
  CHECK_EQ_U (RK_CMD_RESTORE, 7);
  CHECK_EQ_U (RK_CMD_TERMINATE, 8);
  CHECK_EQ_U (RK_CMD_LINK, 9);
  CHECK_EQ_U (RK_CMD_INBOX, 10);
  CHECK_EQ_U (RK_CMD_COUNT_, 11);
  CHECK_EQ_U (RK_ROUTE_F_SYSTEM, 1);

  CHECK_EQ_U (RK_REC_F_INLINE, 1);
  CHECK_EQ_U (RK_REC_F_ERROR, 2);
  CHECK_EQ_U (RK_REC_F_STAGED, 4);
  CHECK_EQ_U (RK_REC_F_FROM_INBOX, 8);
  CHECK_EQ_U (RK_REC_F_TO_ROUTE, 16);
  CHECK_EQ_U (RK_REC_F_LL_OUT, 32);

  CHECK_EQ_U (RK_STATUS_OK, 0);
  CHECK_EQ_U (RK_STATUS_UNSUPPORTED, 1);
  CHECK_EQ_U (RK_STATUS_INVALID, 2);
  CHECK_EQ_U (RK_STATUS_TOO_LARGE, 3);
  CHECK_EQ_U (RK_STATUS_UNKNOWN_CMD, 4);
  CHECK_EQ_U (RK_STATUS_BAD_CHECKPOINT, 5);
  CHECK_EQ_U (RK_STATUS_FAULT, 6);

  CHECK_EQ_U (RK_STATE_NONE, 0);
  CHECK_EQ_U (RK_STATE_LAUNCHED, 1);
  CHECK_EQ_U (RK_STATE_ACTIVE, 2);
  CHECK_EQ_U (RK_STATE_PAUSED, 3);
  CHECK_EQ_U (RK_STATE_DRAINING, 4);
  CHECK_EQ_U (RK_STATE_TERMINATED, 5);
  CHECK_EQ_U (RK_STATE_FAILED, 6);
  CHECK_EQ_U (RK_STATE_COUNT_, 7);

  CHECK_EQ_U (RK_KERNEL_ECHO, 1);
  CHECK_EQ_U (RK_KERNEL_SCALE, 2);
  CHECK_EQ_U (RK_KERNEL_ACCUMULATE, 3);
}

static void
test_record (void)
{
  SECTION ("rk_desc, rk_record");
  CHECK_SIZE (rk_desc, 32);
  CHECK_OFF (rk_desc, in_off, 0);
  CHECK_OFF (rk_desc, out_off, 8);
  CHECK_OFF (rk_desc, out_cap, 16);
  CHECK_OFF (rk_desc, aux, 20);
  CHECK_OFF (rk_desc, arg, 24);

  CHECK_SIZE (rk_record, 64);
  CHECK_EQ_U (_Alignof (rk_record), 8);
  CHECK_OFF (rk_record, type, 0);
  CHECK_FIELD_SIZE (rk_record, type, 2);
  CHECK_OFF (rk_record, flags, 2);
  CHECK_FIELD_SIZE (rk_record, flags, 2);
  CHECK_OFF (rk_record, len, 4);
  CHECK_FIELD_SIZE (rk_record, len, 4);
  CHECK_OFF (rk_record, seq, 8);
  CHECK_FIELD_SIZE (rk_record, seq, 8);
  CHECK_OFF (rk_record, hlc, 16);
  CHECK_FIELD_SIZE (rk_record, hlc, 8);
  CHECK_OFF (rk_record, node, 24);
  CHECK_FIELD_SIZE (rk_record, node, 4);
  CHECK_OFF (rk_record, status, 28);
  CHECK_FIELD_SIZE (rk_record, status, 4);
  CHECK_OFF (rk_record, u, 32);
  CHECK_OFF (rk_record, u.bytes, 32);
  CHECK_OFF (rk_record, u.desc, 32);
  CHECK_FIELD_SIZE (rk_record, u, 32);
  CHECK_FIELD_SIZE (rk_record, u.bytes, 32);
  CHECK_OFF (rk_record, u.desc.in_off, 32);
  CHECK_OFF (rk_record, u.desc.out_off, 40);
  CHECK_OFF (rk_record, u.desc.out_cap, 48);
  CHECK_OFF (rk_record, u.desc.aux, 52);
  CHECK_OFF (rk_record, u.desc.arg, 56);
}

static void
test_ring_layout (void)
{
  SECTION ("rk_ring");
  CHECK_SIZE (rk_ring, 384);
  CHECK_OFF (rk_ring, head, 0);
  CHECK_OFF (rk_ring, prod_waiting, 8);
  CHECK_OFF (rk_ring, reserved0_, 12);
  CHECK_OFF (rk_ring, pad0_, 16);
  CHECK_FIELD_SIZE (rk_ring, pad0_, 112);
  CHECK_OFF (rk_ring, tail, 128);
  CHECK_OFF (rk_ring, cons_waiting, 136);
  CHECK_OFF (rk_ring, closed, 140);
  CHECK_OFF (rk_ring, pad1_, 144);
  CHECK_FIELD_SIZE (rk_ring, pad1_, 112);
  CHECK_OFF (rk_ring, entries, 256);
  CHECK_OFF (rk_ring, mask, 260);
  CHECK_OFF (rk_ring, record_size, 264);
  CHECK_OFF (rk_ring, version, 268);
  CHECK_OFF (rk_ring, pad2_, 272);
  CHECK_FIELD_SIZE (rk_ring, pad2_, 112);
  CHECK_EQ_U (RK_RING_BYTES (1), 384 + 64);
  CHECK_EQ_U (RK_RING_BYTES (8), 384 + 8 * 64);
  CHECK_EQ_U (RK_RING_BYTES (1024), 384 + 1024 * 64);
  /* the slots follow the header */
  static uint64_t mem[RK_RING_BYTES (4) / 8];
  CHECK ((char *) rk_ring_slots ((rk_ring *) mem) == (char *) mem + 384);
}

static void
test_control_layout (void)
{
  SECTION ("rk_control");
  CHECK_SIZE (rk_control, 512);
  /* line 0: host */
  CHECK_OFF (rk_control, magic, 0);
  CHECK_OFF (rk_control, version, 4);
  CHECK_OFF (rk_control, doorbell, 8);
  CHECK_OFF (rk_control, node, 12);
  CHECK_OFF (rk_control, kernel_id, 16);
  CHECK_OFF (rk_control, reserved0_, 20);
  CHECK_OFF (rk_control, created_ns, 24);
  CHECK_OFF (rk_control, cancel, 32);
  CHECK_OFF (rk_control, k2h_fast, 40);
  CHECK_OFF (rk_control, pad0_, 48);
  CHECK_FIELD_SIZE (rk_control, pad0_, 80);
  /* line 1: actor */
  CHECK_OFF (rk_control, state, 128);
  CHECK_OFF (rk_control, last_error, 132);
  CHECK_OFF (rk_control, heartbeat, 136);
  CHECK_OFF (rk_control, hlc, 144);
  CHECK_OFF (rk_control, records_in, 152);
  CHECK_OFF (rk_control, records_out, 160);
  CHECK_OFF (rk_control, errors, 168);
  CHECK_OFF (rk_control, last_seq, 176);
  CHECK_OFF (rk_control, batches, 184);
  CHECK_OFF (rk_control, routed_out, 192);
  CHECK_OFF (rk_control, routed_in, 200);
  CHECK_OFF (rk_control, skipped_in, 208);
  CHECK_OFF (rk_control, fast_in, 216);
  CHECK_OFF (rk_control, h2k_fast, 224);
  CHECK_OFF (rk_control, pad1_, 232);
  CHECK_FIELD_SIZE (rk_control, pad1_, 24);
  /* line 2: actor, one timestamp per state */
  CHECK_OFF (rk_control, state_ns, 256);
  CHECK_FIELD_SIZE (rk_control, state_ns, 56);
  CHECK_OFF (rk_control, pad2_, 312);
  CHECK_FIELD_SIZE (rk_control, pad2_, 72);
  /* line 3: reserved */
  CHECK_OFF (rk_control, reserved_, 384);
  CHECK_FIELD_SIZE (rk_control, reserved_, 128);
}

static void
test_route_checkpoint (void)
{
  SECTION ("rk_route, rk_checkpoint, rk_accumulate_state");
  CHECK_SIZE (rk_route, 64);
  CHECK_OFF (rk_route, inbox_addr, 0);
  CHECK_OFF (rk_route, arena_addr, 8);
  CHECK_OFF (rk_route, arena_size, 16);
  CHECK_OFF (rk_route, route_id, 24);
  CHECK_OFF (rk_route, dst_node, 28);
  CHECK_OFF (rk_route, flags, 32);
  CHECK_OFF (rk_route, reserved0_, 36);
  CHECK_OFF (rk_route, doorbell_addr, 40);
  CHECK_OFF (rk_route, ll_addr, 48);
  CHECK_OFF (rk_route, reserved_, 56);
  CHECK_FIELD_SIZE (rk_route, reserved_, 8);

  CHECK_SIZE (rk_checkpoint, 96);
  CHECK_OFF (rk_checkpoint, magic, 0);
  CHECK_OFF (rk_checkpoint, version, 4);
  CHECK_OFF (rk_checkpoint, kernel_id, 8);
  CHECK_OFF (rk_checkpoint, n_params, 12);
  CHECK_OFF (rk_checkpoint, state_len, 16);
  CHECK_OFF (rk_checkpoint, hlc, 24);
  CHECK_OFF (rk_checkpoint, params, 32);
  CHECK_FIELD_SIZE (rk_checkpoint, params, 64);

  /* the accumulate state is serialised into checkpoints the same on every backend */
  CHECK_OFF (rk_accumulate_state, count, 0);
  CHECK_OFF (rk_accumulate_state, samples, 8);
  CHECK_OFF (rk_accumulate_state, sum, 16);
}

/* The RK_ABI_LAYOUT table, with the value each entry must have, in the table's order. */
typedef struct layout_entry {
  const char *expr;
  size_t value;
} layout_entry;

#define RK_LAYOUT_ENTRY(e) { #e, (e) },
static const layout_entry layout[] = { RK_ABI_LAYOUT (RK_LAYOUT_ENTRY) };
#undef RK_LAYOUT_ENTRY

static const size_t layout_expected[] = {
  64,  /* sizeof (rk_record) */
  32,  /* sizeof (rk_desc) */
  384, /* sizeof (rk_ring) */
  512, /* sizeof (rk_control) */
  64,  /* sizeof (rk_route) */
  96,  /* sizeof (rk_checkpoint) */
  8,   /* rk_record.seq */
  16,  /* rk_record.hlc */
  24,  /* rk_record.node */
  28,  /* rk_record.status */
  32,  /* rk_record.u */
  8,   /* rk_desc.out_off */
  16,  /* rk_desc.out_cap */
  20,  /* rk_desc.aux */
  24,  /* rk_desc.arg */
  128, /* rk_ring.tail */
  136, /* rk_ring.cons_waiting */
  256, /* rk_ring.entries */
  268, /* rk_ring.version */
  8,   /* rk_control.doorbell */
  128, /* rk_control.state */
  136, /* rk_control.heartbeat */
  144, /* rk_control.hlc */
  176, /* rk_control.last_seq */
  184, /* rk_control.batches */
  32,  /* rk_control.cancel */
  192, /* rk_control.routed_out */
  208, /* rk_control.skipped_in */
  140, /* rk_ring.closed */
  40,  /* rk_route.doorbell_addr */
  256, /* rk_control.state_ns */
  384, /* rk_control.reserved_ */
  32,  /* rk_route.flags */
  32,  /* rk_checkpoint.params */
  48,  /* rk_route.ll_addr */
  216, /* rk_control.fast_in */
  224, /* rk_control.h2k_fast */
  40,  /* rk_control.k2h_fast */
};

static void
test_layout_table (void)
{
  const size_t n = sizeof layout / sizeof layout[0];

  SECTION ("RK_ABI_LAYOUT");
  /* One line per entry: "RK_ABI_LAYOUT <index> <value> <expression>", for a device-side test to diff. */
  for (size_t i = 0; i < n; i++)
    printf ("RK_ABI_LAYOUT %2zu %4zu %s\n", i, layout[i].value, layout[i].expr);
  fflush (stdout);
  CHECK_EQ_U (n, sizeof layout_expected / sizeof layout_expected[0]);
  for (size_t i = 0; i < n; i++)
    CHECK_MSG (layout[i].value == layout_expected[i], "entry %zu (%s) is %zu, expected %zu", i,
        layout[i].expr, layout[i].value, layout_expected[i]);
}

static void
test_fresh_ring (void)
{
  static const uint32_t sizes[] = { 1, 2, 8, 64 };

  SECTION ("a freshly laid-out ring");
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    uint32_t entries = sizes[k];
    size_t bytes = RK_RING_BYTES (entries);
    uint8_t *mem = rk_test_alloc_lines (bytes);
    CHECK (mem != NULL);
    memset (mem, 0xa5, bytes); /* garbage: the init must clear it */
    CHECK_EQ_I (rk_ring_init (mem, entries, 12345), 0);
    rk_ring *r = (rk_ring *) mem;
    CHECK_EQ_U (r->head, 12345);
    CHECK_EQ_U (r->tail, 12345);
    CHECK_EQ_U (r->prod_waiting, 0);
    CHECK_EQ_U (r->cons_waiting, 0);
    CHECK_EQ_U (r->reserved0_, 0);
    CHECK_EQ_U (r->closed, 0);
    CHECK (all_zero (r->pad0_, sizeof r->pad0_));
    CHECK (all_zero (r->pad1_, sizeof r->pad1_));
    CHECK (all_zero (r->pad2_, sizeof r->pad2_));
    CHECK_EQ_U (r->entries, entries);
    CHECK_EQ_U (r->mask, entries - 1);
    CHECK_EQ_U (r->record_size, RK_RECORD_SIZE);
    CHECK_EQ_U (r->version, RK_ABI_VERSION);
    CHECK (all_zero (rk_ring_slots (r), (size_t) entries * RK_RECORD_SIZE));
    free (mem);
  }
}

static void
test_fresh_control (void)
{
  SECTION ("a freshly laid-out control block (CPU actor)");
  rk_actor_config cfg = {
    .backend = &rk_backend_cpu,
    .handler = rk_handler_find ("scale"),
    .ring_entries = 8,
    .in_arena_size = 1 << 16,
    .out_arena_size = 1 << 16,
    .node = 41,
  };
  rk_actor *a;
  char why[256] = "";
  int r = rk_actor_new (&cfg, &a, why, sizeof why);
  CHECK_MSG (r == 0, "rk_actor_new: %d (%s)", r, why);
  const rk_control *ctl = rk_actor_control (a);
  CHECK (((uintptr_t) ctl % RK_LINE_SIZE) == 0);
  CHECK_EQ_U (ctl->magic, RK_CONTROL_MAGIC);
  CHECK_EQ_U (ctl->version, RK_ABI_VERSION);
  CHECK_EQ_U (ctl->node, 41);
  CHECK_EQ_U (ctl->kernel_id, RK_KERNEL_SCALE);
  CHECK (ctl->created_ns > 0);
  CHECK_EQ_U (ctl->reserved0_, 0);
  CHECK (all_zero (ctl->pad0_, sizeof ctl->pad0_));
  CHECK (all_zero (ctl->pad1_, sizeof ctl->pad1_));
  CHECK (all_zero (ctl->pad2_, sizeof ctl->pad2_));
  CHECK (all_zero (ctl->reserved_, sizeof ctl->reserved_));
  r = rk_actor_stop (a, 2000000000);
  CHECK_EQ_I (r, 0);
  /* the actor never writes the reserved line, not even on its way out */
  CHECK (all_zero (ctl->reserved_, sizeof ctl->reserved_));
  CHECK (all_zero (ctl->pad1_, sizeof ctl->pad1_));
  CHECK (all_zero (ctl->pad2_, sizeof ctl->pad2_));
  rk_actor_unref (a);
}

int
main (void)
{
  test_constants ();
  test_record ();
  test_ring_layout ();
  test_control_layout ();
  test_route_checkpoint ();
  test_layout_table ();
  test_fresh_ring ();
  test_fresh_control ();
  printf ("test_abi: all checks passed\n");
  return 0;
}
