/*
 * A UDP reflector for the transport benchmarks: sends every datagram straight back to its
 * sender. Reflected, a CTAPHID PING request is a valid PING response (same channel, command and
 * payload), so the client's whole CTAPHID stack can be timed against the raw socket round trip
 * without any authenticator code on the far side. Prints its port on stdout, then serves until
 * stdin closes.
 *
 *   gcc -O2 -o udp_reflector bench/udp_reflector.c && ./udp_reflector
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  struct sockaddr_in addr = {0}, from;
  socklen_t len = sizeof(addr);
  unsigned char buf[65536];
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) return perror("socket"), 1;
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr *)&addr, sizeof(addr)) || getsockname(s, (struct sockaddr *)&addr, &len))
    return perror("bind"), 1;
  printf("%d\n", ntohs(addr.sin_port));
  fflush(stdout);
  for (;;) {
    struct pollfd fds[2] = {{s, POLLIN, 0}, {0, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) return perror("poll"), 1;
    if (fds[1].revents) {
      char c;
      if (read(0, &c, 1) <= 0) return 0; /* the benchmark went away */
    }
    if (fds[0].revents & POLLIN) {
      socklen_t fl = sizeof(from);
      ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
      if (n >= 0) sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
  }
}
