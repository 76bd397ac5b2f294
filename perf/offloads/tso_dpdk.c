/*
 * The DPDK side of perf/offloads/tso.py: DPDK's own virtio-user PMD sending 64 KiB TCP/IPv4 TSO
 * frames (MSS 1448) for a number of seconds, the same frames TsoSender.cs sends through Pmd.
 * Frames are built once and sent again and again (a reference taken per send), so the app
 * touches no payload: what is measured is the driver's cost per frame and what the backend
 * takes. Prints one line: frames, Gbit/s of TCP frames handed over, TSC cycles per frame.
 *
 * Build: gcc -O2 -o tso_dpdk tso_dpdk.c $(pkg-config --cflags --libs libdpdk)
 * Run:   ./tso_dpdk -l 0-1 --in-memory --no-pci --vdev net_virtio_user0,path=SOCK -- SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_cycles.h>

#define FRAMES 64
#define BURST 16
#define PAYLOAD (65536 - 14 - 20 - 20 - 2)
#define MSS 1448
#define SEGMENT_DATA 2048

static struct rte_mbuf *build_frame(struct rte_mempool *pool, uint32_t seq)
{
	struct rte_mbuf *head = rte_pktmbuf_alloc(pool);
	if (head == NULL)
		return NULL;
	uint8_t *h = (uint8_t *)rte_pktmbuf_append(head, 54);
	if (h == NULL)
		return NULL;
	memset(h, 0, 54);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)h;
	memcpy(eth->dst_addr.addr_bytes, "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(eth->src_addr.addr_bytes, "\x02\x00\x00\x00\x00\x01", 6);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(h + 14);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(20 + 20 + PAYLOAD);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(0x0a000001);
	ip->dst_addr = rte_cpu_to_be_32(0x0a000002);
	struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)(h + 34);
	tcp->src_port = rte_cpu_to_be_16(40000);
	tcp->dst_port = rte_cpu_to_be_16(5001);
	tcp->sent_seq = rte_cpu_to_be_32(seq);
	tcp->data_off = 5 << 4;
	tcp->tcp_flags = RTE_TCP_ACK_FLAG;
	tcp->rx_win = rte_cpu_to_be_16(65535);
	int left = PAYLOAD;
	struct rte_mbuf *tail = head;
	while (left > 0) {
		struct rte_mbuf *seg = rte_pktmbuf_alloc(pool);
		if (seg == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		int n = left < SEGMENT_DATA ? left : SEGMENT_DATA;
		memset(rte_pktmbuf_append(seg, n), (int)(seq & 0xff), n);
		tail->next = seg;
		tail = seg;
		head->nb_segs++;
		head->pkt_len += n;
		left -= n;
	}
	head->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_SEG;
	head->l2_len = 14;
	head->l3_len = 20;
	head->l4_len = 20;
	head->tso_segsz = MSS;
	return head;
}

int main(int argc, char **argv)
{
	int eal = rte_eal_init(argc, argv);
	if (eal < 0)
		rte_exit(EXIT_FAILURE, "EAL init failed\n");
	argc -= eal;
	argv += eal;
	double seconds = argc > 1 ? atof(argv[1]) : 5;
	if (rte_eth_dev_count_avail() < 1)
		rte_exit(EXIT_FAILURE, "no port\n");
	struct rte_eth_dev_info info;
	rte_eth_dev_info_get(0, &info);
	uint64_t want = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if ((info.tx_offload_capa & want) != want)
		rte_exit(EXIT_FAILURE, "the port lacks TSO (tx_offload_capa 0x%lx): is the backend's tso=1 set?\n", info.tx_offload_capa);
	struct rte_eth_conf conf = { .txmode = { .offloads = want } };
	struct rte_mempool *pool = rte_pktmbuf_pool_create("tso", 8191, 256, 0, SEGMENT_DATA + RTE_PKTMBUF_HEADROOM, rte_socket_id());
	if (pool == NULL || rte_eth_dev_configure(0, 1, 1, &conf) < 0
	    || rte_eth_rx_queue_setup(0, 0, 256, rte_socket_id(), NULL, pool) < 0
	    || rte_eth_tx_queue_setup(0, 0, 256, rte_socket_id(), NULL) < 0 || rte_eth_dev_start(0) < 0)
		rte_exit(EXIT_FAILURE, "port setup failed\n");
	struct rte_mbuf *frames[FRAMES];
	for (int i = 0; i < FRAMES; i++) {
		frames[i] = build_frame(pool, (uint32_t)i * PAYLOAD);
		if (frames[i] == NULL)
			rte_exit(EXIT_FAILURE, "pool too small\n");
	}
	/* The pseudo-header sums the virtio PMD wants, written once (the frames never change). */
	if (rte_eth_tx_prepare(0, 0, frames, FRAMES) != FRAMES)
		rte_exit(EXIT_FAILURE, "tx_prepare refused a frame\n");
	uint64_t hz = rte_get_tsc_hz(), end = rte_rdtsc() + (uint64_t)(seconds * hz), start = rte_rdtsc();
	uint64_t sent = 0, busy = 0;
	unsigned next = 0;
	struct rte_mbuf *burst[BURST];
	while (rte_rdtsc() < end) {
		for (int i = 0; i < BURST; i++) {
			burst[i] = frames[(next + i) % FRAMES];
			rte_pktmbuf_refcnt_update(burst[i], 1);
		}
		uint64_t t0 = rte_rdtsc();
		uint16_t n = rte_eth_tx_burst(0, 0, burst, BURST);
		if (n > 0)
			busy += rte_rdtsc() - t0;
		for (int i = n; i < BURST; i++)
			rte_pktmbuf_refcnt_update(burst[i], -1);
		next = (next + n) % FRAMES;
		sent += n;
	}
	double elapsed = (double)(rte_rdtsc() - start) / hz;
	uint64_t frame_bytes = 54 + PAYLOAD;
	printf("frames=%lu seconds=%.2f gbps=%.3f cycles_per_frame=%.0f\n", sent, elapsed,
	       sent * frame_bytes * 8.0 / elapsed / 1e9, sent ? (double)busy / sent : 0.0);
	rte_eth_dev_stop(0);
	rte_eth_dev_close(0);
	rte_eal_cleanup();
	return 0;
}
