/* A fault-injection library for end-to-end tests, loaded with LD_PRELOAD.
 *
 * fsync fails with EIO for every file whose path contains the text in
 * RYSC_FAIL_FSYNC, the way it fails after a disk loses a write that was
 * already reported as done. A real failure needs a broken disk (or
 * device-mapper and root), so the tests fake it here, one level below
 * rysc. All other files, and every file when the variable is unset, go to
 * the real fsync.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Returns 1 when the file open as Fd has a path containing Pattern. */
static int pathContains(int Fd, const char *Pattern) {
  char Link[64];
  char Path[4096];
  snprintf(Link, sizeof Link, "/proc/self/fd/%d", Fd);
  ssize_t Length = readlink(Link, Path, sizeof Path - 1);
  if (Length < 0)
    return 0;
  Path[Length] = '\0';
  return strstr(Path, Pattern) != NULL;
}

int fsync(int Fd) {
  const char *Pattern = getenv("RYSC_FAIL_FSYNC");
  if (Pattern && *Pattern && pathContains(Fd, Pattern)) {
    errno = EIO;
    return -1;
  }
  int (*RealFsync)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  return RealFsync(Fd);
}
