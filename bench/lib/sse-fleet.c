// SPDX-License-Identifier: GPL-3.0-or-later
// The SSE subscriber fleet of `pnpm bench http` (driven by sse-fleet.ts): holds thousands of
// streams on non-blocking sockets in one epoll loop and scans their bytes for the publisher's
// send time (`"bench_sent":<ms since the epoch>`). At 100,000 deliveries a second a Node client
// spent ~7 µs of CPU per delivered event, as much as the server under test on the same two
// cores; this one spends 4–5 µs, most of it in the kernel's socket reads (the bench logs it).
//
// Usage: sse-fleet <port> <path> <count> <latency-file>
// Commands on stdin, one per line; answers on stdout, one line each:
//   (start)    → "opened" once every stream has its 200 response, or "failed <why>"
//   record     → starts recording latencies and counting deliveries afresh (no answer)
//   delivered  → "delivered <events> <streams the server dropped>"
//   collect    → stops recording, writes the latencies (float64, native order) to <latency-file>,
//                "collected <samples> <events> <dropped> <cpu µs since record>"
//   close      → closes every stream and exits

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OPEN_BATCH 250
#define READ_SIZE 65536

static const char MARKER[] = "\"bench_sent\":";

struct stream {
  int fd;
  int live;          /* got its 200 response */
  char *pending;     /* bytes after the last complete frame */
  size_t pending_len;
};

static struct stream *streams;
static int stream_count;
static double *latencies;
static size_t latency_len, latency_cap;
static long long delivered;
static int dropped;
static int recording;
static int closing;
static struct rusage usage_at_record;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void record_latency(double value) {
  if (latency_len == latency_cap) {
    latency_cap = latency_cap ? latency_cap * 2 : 1 << 20;
    latencies = realloc(latencies, latency_cap * sizeof(double));
    if (!latencies) { perror("realloc"); exit(1); }
  }
  latencies[latency_len++] = value;
}

/* Scan data[0, end) for send times; `end` is just past the last complete frame. */
static void scan(const char *data, size_t end) {
  double now = now_ms();
  const char *at = data, *stop = data + end;
  while ((at = memmem(at, stop - at, MARKER, sizeof MARKER - 1)) != NULL) {
    at += sizeof MARKER - 1;
    char *after;
    double sent = strtod(at, &after);
    if (after == at) continue;
    delivered++;
    if (recording) record_latency(now - sent);
    at = after;
  }
}

/* The offset just past the last "\n\n" in buf[0, len), or 0 when there is none. */
static size_t frames_end(const char *buf, size_t len) {
  for (size_t i = len; i >= 2; i--) {
    if (buf[i - 1] == '\n' && buf[i - 2] == '\n') return i;
  }
  return 0;
}

static void on_bytes(struct stream *s, const char *chunk, size_t len) {
  char *data;
  size_t total;
  if (s->pending_len > 0) {
    total = s->pending_len + len;
    data = malloc(total);
    memcpy(data, s->pending, s->pending_len);
    memcpy(data + s->pending_len, chunk, len);
    free(s->pending);
    s->pending = NULL;
    s->pending_len = 0;
  } else {
    data = (char *)chunk;
    total = len;
  }
  size_t end = frames_end(data, total);
  if (end > 0) scan(data, end);
  if (end < total) {
    s->pending_len = total - end;
    s->pending = malloc(s->pending_len);
    memcpy(s->pending, data + end, s->pending_len);
  }
  if (data != chunk) free(data);
}

static int connect_one(int port, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { close(fd); return -1; }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char request[512];
  int n = snprintf(request, sizeof request,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n", path, port);
  if (write(fd, request, n) != n) { close(fd); return -1; }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

static void drop(int epoll, struct stream *s) {
  epoll_ctl(epoll, EPOLL_CTL_DEL, s->fd, NULL);
  close(s->fd);
  s->fd = -1;
  free(s->pending);
  s->pending = NULL;
  s->pending_len = 0;
  if (s->live && !closing) dropped++;
}

/* Read everything available on a stream. Returns -1 when the first response is not a 200. */
static int read_stream(int epoll, struct stream *s) {
  static char buf[READ_SIZE];
  for (;;) {
    ssize_t n = read(s->fd, buf, sizeof buf);
    if (n > 0) {
      const char *body = buf;
      size_t len = (size_t)n;
      if (!s->live) {
        if (len < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0) return -1;
        s->live = 1;
      }
      on_bytes(s, body, len);
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) drop(epoll, s);
    return 0;
  }
}

__attribute__((format(printf, 1, 2))) static void reply(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vprintf(format, args);
  va_end(args);
  fflush(stdout);
}

static long long cpu_us_since(const struct rusage *from) {
  struct rusage now;
  getrusage(RUSAGE_SELF, &now);
  long long us = (now.ru_utime.tv_sec - from->ru_utime.tv_sec) * 1000000LL + (now.ru_utime.tv_usec - from->ru_utime.tv_usec);
  us += (now.ru_stime.tv_sec - from->ru_stime.tv_sec) * 1000000LL + (now.ru_stime.tv_usec - from->ru_stime.tv_usec);
  return us;
}

/* Handle one command line; returns 1 to exit. */
static int command(const char *line, const char *latency_file) {
  if (strcmp(line, "record") == 0) {
    latency_len = 0;
    delivered = 0;
    recording = 1;
    getrusage(RUSAGE_SELF, &usage_at_record);
  } else if (strcmp(line, "delivered") == 0) {
    reply("delivered %lld %d\n", delivered, dropped);
  } else if (strcmp(line, "collect") == 0) {
    recording = 0;
    FILE *out = fopen(latency_file, "wb");
    if (!out || fwrite(latencies, sizeof(double), latency_len, out) != latency_len) {
      reply("failed cannot write %s\n", latency_file);
    } else {
      fclose(out);
      reply("collected %zu %lld %d %lld\n", latency_len, delivered, dropped, cpu_us_since(&usage_at_record));
    }
  } else if (strcmp(line, "close") == 0) {
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: sse-fleet <port> <path> <count> <latency-file>\n");
    return 64;
  }
  int port = atoi(argv[1]);
  const char *path = argv[2];
  stream_count = atoi(argv[3]);
  const char *latency_file = argv[4];
  streams = calloc(stream_count, sizeof *streams);
  int epoll = epoll_create1(0);
  struct epoll_event event = {.events = EPOLLIN};
  event.data.ptr = NULL; /* stdin */
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  epoll_ctl(epoll, EPOLL_CTL_ADD, 0, &event);

  struct epoll_event ready[256];
  int opened = 0, live = 0;
  int announced = 0;
  char line[256];
  size_t line_len = 0;
  for (;;) {
    /* Open the next batch once the previous one is live (keeps the accept queue from overflowing). */
    while (opened < stream_count && opened - live < OPEN_BATCH) {
      struct stream *s = &streams[opened++];
      s->fd = connect_one(port, path);
      if (s->fd < 0) {
        reply("failed connect: %s\n", strerror(errno));
        return 1;
      }
      struct epoll_event ev = {.events = EPOLLIN};
      ev.data.ptr = s;
      epoll_ctl(epoll, EPOLL_CTL_ADD, s->fd, &ev);
    }
    if (!announced && live == stream_count) {
      announced = 1;
      reply("opened\n");
    }
    int n = epoll_wait(epoll, ready, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; i++) {
      struct stream *s = ready[i].data.ptr;
      if (s == NULL) {
        char c;
        ssize_t got;
        while ((got = read(0, &c, 1)) == 1) {
          if (c != '\n') {
            if (line_len < sizeof line - 1) line[line_len++] = c;
            continue;
          }
          line[line_len] = '\0';
          line_len = 0;
          if (command(line, latency_file)) goto done;
        }
        if (got == 0) goto done; /* the driver went away */
        continue;
      }
      if (s->fd < 0) continue;
      int was_live = s->live;
      if (read_stream(epoll, s) < 0) {
        reply("failed stream answered without 200\n");
        return 1;
      }
      if (!was_live && s->live) live++;
    }
  }
done:
  closing = 1;
  for (int i = 0; i < opened; i++) if (streams[i].fd >= 0) close(streams[i].fd);
  return 0;
}
