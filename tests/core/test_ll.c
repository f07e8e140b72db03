/* gst-ringkernel: the low-latency mirror of a K2K inbox (core/rk_ll.h), its C reference.
 *
 * A record and its payload written into a slot read back whole with the slot's flag and with no
 * other; a write fills every line of the slot with the flag; a line of which one word still holds
 * the slot's last flag (a store not seen yet) keeps the whole record from being read; a ring of
 * slots reused in order never shows a position's record before it is written.
 */
#include <string.h>

#include "rk_abi.h"
#include "rk_ll.h"
#include "rk_test.h"

#define ENTRIES 8u

static void
random_record (rk_test_rng *rng, rk_record *rec, uint8_t *payload, uint32_t len)
{
  uint8_t *b = (uint8_t *) rec;
  for (uint32_t i = 0; i < sizeof *rec; i++)
    b[i] = (uint8_t) rk_test_next (rng);
  rec->len = len;
  for (uint32_t i = 0; i < len; i++)
    payload[i] = (uint8_t) rk_test_next (rng);
}

static void
test_geometry (void)
{
  SECTION ("geometry");
  CHECK_EQ_U (RK_LL_LINES, 64);
  CHECK_EQ_U (RK_LL_MAX_PAYLOAD, 448);
  CHECK_EQ_U (rk_ll_lines (0), 8);
  CHECK_EQ_U (rk_ll_lines (1), 9);
  CHECK_EQ_U (rk_ll_lines (8), 9);
  CHECK_EQ_U (rk_ll_lines (RK_LL_MAX_PAYLOAD), RK_LL_LINES);
  /* a slot's flag differs from its last use's, for every ring size, across the 32-bit wrap */
  static const uint64_t around[] = { 0, 1, 0xfffffffeull, 0xffffffffull, 0x100000000ull, 0x1ffffffffull };
  for (uint32_t entries = 1; entries <= (1u << 20); entries <<= 1)
    for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) {
      const uint64_t pos = around[i] + entries;
      CHECK (rk_ll_flag (pos) != rk_ll_flag (pos - entries));
    }
  CHECK (rk_ll_flag (0) != 0);
  /* what travels in the mirror after the record */
  CHECK (rk_ll_carries (RK_CMD_PROCESS, 0, 0) && rk_ll_carries (RK_CMD_PROCESS, RK_REC_F_TO_ROUTE, 448));
  CHECK (!rk_ll_carries (RK_CMD_PROCESS, 0, 449) && !rk_ll_carries (RK_CMD_SET_PARAM, 0, 0));
  CHECK (!rk_ll_carries (RK_CMD_PROCESS, RK_REC_F_INLINE, 4) && !rk_ll_carries (RK_CMD_PROCESS, RK_REC_F_STAGED, 64));
  CHECK (!rk_ll_carries (RK_CMD_PROCESS, RK_REC_F_FROM_INBOX, 64));
  /* two slots of a mirror are RK_LL_SLOT_BYTES apart, and position entries is slot 0 again */
  CHECK_EQ_U ((uintptr_t) rk_ll_slot (4096, 1, ENTRIES - 1) - 4096, RK_LL_SLOT_BYTES);
  CHECK_EQ_U ((uintptr_t) rk_ll_slot (4096, ENTRIES, ENTRIES - 1), 4096);
}

static void
test_round_trip (rk_test_rng *rng)
{
  rk_ll_line *slot = rk_test_alloc_lines (RK_LL_SLOT_BYTES);
  uint8_t payload[RK_LL_MAX_PAYLOAD], got[RK_LL_MAX_PAYLOAD];
  rk_record rec, back;

  SECTION ("round trip");
  memset (slot, 0, RK_LL_SLOT_BYTES);
  for (int it = 0; it < 20000; it++) {
    const uint32_t len = (uint32_t) rk_test_below (rng, RK_LL_MAX_PAYLOAD + 1);
    const uint64_t pos = rk_test_next (rng);
    const uint32_t flag = rk_ll_flag (pos), old = rk_ll_flag (pos - ENTRIES);
    random_record (rng, &rec, payload, len);
    rk_ll_write (slot, &rec, payload, len, flag);
    for (uint32_t k = 0; k < RK_LL_LINES; k++)
      CHECK_MSG (rk_ll_ready (slot[k].w[0], slot[k].w[1], flag), "line %u of a %u-byte record", k, len);
    memset (&back, 0, sizeof back);
    memset (got, 0, sizeof got);
    CHECK (rk_ll_read (slot, flag, len, &back, got));
    CHECK (memcmp (&back, &rec, sizeof rec) == 0);
    CHECK (memcmp (got, payload, len) == 0);
    CHECK (!rk_ll_read (slot, old, len, &back, got));
    CHECK (!rk_ll_read (slot, flag + 1, len, &back, got));
    /* one word of one line not seen yet: nothing is read */
    const uint32_t k = (uint32_t) rk_test_below (rng, rk_ll_lines (len)), h = (uint32_t) rk_test_below (rng, 2);
    const uint64_t keep = slot[k].w[h];
    slot[k].w[h] = rk_ll_word ((uint32_t) rk_test_next (rng), old);
    memset (&back, 0xee, sizeof back);
    CHECK_MSG (!rk_ll_read (slot, flag, len, &back, got), "word %u of line %u stale", h, k);
    CHECK (((uint8_t *) &back)[0] == 0xee); /* and nothing was written */
    slot[k].w[h] = keep;
    CHECK (rk_ll_read (slot, flag, len, &back, got));
  }
  free (slot);
}

/* Positions written in order into a ring of ENTRIES slots, the reader one behind or level: it takes
 * position p only after p was written, with p's record, whatever length it asks for. */
static void
test_ring (rk_test_rng *rng)
{
  rk_ll_line *mirror = rk_test_alloc_lines (ENTRIES * RK_LL_SLOT_BYTES);
  uint8_t payload[RK_LL_MAX_PAYLOAD], got[RK_LL_MAX_PAYLOAD];
  rk_record rec, back;
  const uint64_t base = 0xffffff00ull; /* through the 32-bit wrap of the flags */
  uint64_t seq[ENTRIES];

  SECTION ("a ring of mirror slots");
  memset (mirror, 0, ENTRIES * RK_LL_SLOT_BYTES);
  for (uint64_t pos = base; pos < base + 4096; pos++) {
    rk_ll_line *slot = rk_ll_slot ((uint64_t) (uintptr_t) mirror, pos, ENTRIES - 1);
    const uint32_t ask = (uint32_t) rk_test_below (rng, RK_LL_MAX_PAYLOAD + 1);
    CHECK_MSG (!rk_ll_read (slot, rk_ll_flag (pos), ask, &back, got), "position %llu before it was written",
        (unsigned long long) pos);
    const uint32_t len = (uint32_t) rk_test_below (rng, RK_LL_MAX_PAYLOAD + 1);
    random_record (rng, &rec, payload, len);
    rec.seq = pos;
    rk_ll_write (slot, &rec, payload, len, rk_ll_flag (pos));
    seq[pos % ENTRIES] = pos;
    CHECK (rk_ll_read (slot, rk_ll_flag (pos), len, &back, got));
    CHECK (back.seq == pos && back.len == len && memcmp (got, payload, len) == 0);
  }
  for (uint32_t i = 0; i < ENTRIES; i++) /* every slot holds its last position's record */
    CHECK (rk_ll_read (&mirror[i * RK_LL_LINES], rk_ll_flag (seq[i]), 0, &back, got) && back.seq == seq[i]);
  free (mirror);
}

int
main (void)
{
  rk_test_rng rng = { rk_test_seed ("test_ll") };
  test_geometry ();
  test_round_trip (&rng);
  test_ring (&rng);
  printf ("test_ll: all checks passed\n");
  return 0;
}
