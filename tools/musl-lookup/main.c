/* getaddrinfo(3) through musl's own resolver, for the resolver tests (Alpine-based app images
 * resolve with musl, not glibc). Prints one address a line; exit status 2 when the name does
 * not resolve. AF_UNSPEC without AI_ADDRCONFIG, as most applications call it. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s NAME\n", argv[0]);
    return 64;
  }
  struct addrinfo hints, *found;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(argv[1], NULL, &hints, &found);
  if (rc != 0) {
    fprintf(stderr, "%s: %s\n", argv[1], gai_strerror(rc));
    return 2;
  }
  for (struct addrinfo *ai = found; ai; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN];
    const void *addr = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
    printf("%s\n", inet_ntop(ai->ai_family, addr, text, sizeof text));
  }
  freeaddrinfo(found);
  return 0;
}
