/*
 * The lowest I/O cost of an operation on this machine, for the side-by-side benchmark: the very
 * datagrams a client exchanged (recorded by client.ts / client.py), replayed to the same
 * authenticator process from C on a blocking socket, with nothing else. No client in any
 * language can do the same exchange for less CPU than this; run.mjs compares it with the budget
 * of goal 2 (a tenth of python-fido2's CPU per getAssertion).
 *
 *   gcc -O2 -o floor bench/side_by_side/floor.c && ./floor PORT N FILE
 *
 * FILE, written by run.mjs, one token per line: "op" starts an operation, "s HEX" is a datagram
 * to send, "r COUNT" the number of datagrams to read back. Prints one JSON array, an object per
 * operation: median wall ms and mean CPU ms over N runs (after N warm-up runs, as floor.py).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_STEPS 4096
#define MAX_OPS 16

/* One step: a datagram to send (len > 0) or a count of datagrams to read (len == 0). */
struct step {
  unsigned char data[64];
  int len, read;
};

static struct step steps[MAX_STEPS];
static int op_start[MAX_OPS + 1], n_ops, n_steps;

static double now_ms(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int load(const char *path) {
  char line[512];
  FILE *f = fopen(path, "r");
  if (!f) return perror(path), -1;
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "op", 2)) {
      if (n_ops == MAX_OPS) return fprintf(stderr, "floor: too many operations\n"), -1;
      op_start[n_ops++] = n_steps;
      continue;
    }
    if (n_steps == MAX_STEPS || !n_ops) return fprintf(stderr, "floor: bad file %s\n", path), -1;
    struct step *s = &steps[n_steps++];
    if (line[0] == 'r') {
      s->len = 0;
      s->read = atoi(line + 2);
    } else {
      for (s->len = 0; s->len < 64 && sscanf(line + 2 + 2 * s->len, "%2hhx", &s->data[s->len]) == 1;)
        s->len++;
      if (s->len == 0) return fprintf(stderr, "floor: empty datagram in %s\n", path), -1;
    }
  }
  op_start[n_ops] = n_steps;
  return fclose(f);
}

static int run(int sock, int op) {
  unsigned char buf[65536];
  for (int i = op_start[op]; i < op_start[op + 1]; i++) {
    if (steps[i].len && send(sock, steps[i].data, steps[i].len, 0) < 0) return perror("send"), -1;
    for (int k = 0; !steps[i].len && k < steps[i].read; k++)
      if (recv(sock, buf, sizeof buf, 0) < 0) return perror("recv"), -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) return fprintf(stderr, "usage: floor PORT N FILE\n"), 2;
  int n = atoi(argv[2]);
  if (n < 1 || load(argv[3])) return 1;
  struct sockaddr_in peer = {0};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(atoi(argv[1]));
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int sock = socket(AF_INET, SOCK_DGRAM, 0);
  /* An answer that never comes: recv fails after 2 s instead of hanging the benchmark. */
  struct timeval timeout = {2, 0};
  if (sock < 0 || setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) ||
      connect(sock, (struct sockaddr *)&peer, sizeof peer))
    return perror("socket"), 1;
  double *walls = malloc(n * sizeof *walls);
  printf("[");
  for (int op = 0; op < n_ops; op++) {
    for (int i = 0; i < n; i++)
      if (run(sock, op)) return 1;
    double c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < n; i++) {
      double t0 = now_ms(CLOCK_MONOTONIC);
      if (run(sock, op)) return 1;
      walls[i] = now_ms(CLOCK_MONOTONIC) - t0;
    }
    double cpu = (now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0) / n;
    qsort(walls, n, sizeof *walls, cmp);
    double median = n % 2 ? walls[n / 2] : (walls[n / 2 - 1] + walls[n / 2]) / 2;
    printf("%s{\"ms\": %.6f, \"cpuMs\": %.6f}", op ? ", " : "", median, cpu);
  }
  printf("]\n");
  free(walls);
  return close(sock);
}
