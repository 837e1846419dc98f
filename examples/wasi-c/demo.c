/*
 * A tour of what a C program can do under WASI: arguments, environment
 * variables, clocks, randomness, files and directories, standard input and
 * output. The same source builds natively and for wasm32-wasi; run both in
 * the same working directory with the same arguments, environment and input
 * and they print the same thing (see build.sh).
 *
 * Everything it prints is deterministic: clocks and random bytes are checked,
 * not printed, and directory listings are sorted.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIR_NAME "demo.dir"

static int failures = 0;

static void check(int ok, const char *what) {
  if (!ok) {
    printf("FAILED: %s (errno %d)\n", what, errno);
    failures++;
  }
}

static const char *errno_name(int e) {
  switch (e) {
  case ENOENT: return "ENOENT";
  case EEXIST: return "EEXIST";
  case ENOTDIR: return "ENOTDIR";
  case EISDIR: return "EISDIR";
  case ENOTEMPTY: return "ENOTEMPTY";
  case EACCES: return "EACCES";
  case EPERM: return "EPERM";
  default: return "other";
  }
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void show_args(int argc, char **argv) {
  /* argv[0] is the program's path, which differs between the builds. */
  printf("arguments (%d):", argc - 1);
  for (int i = 1; i < argc; i++)
    printf(" [%s]", argv[i]);
  printf("\n");
}

static void show_env(void) {
  const char *greeting = getenv("GREETING");
  printf("GREETING=%s\n", greeting ? greeting : "(unset)");
  printf("WARD_DEMO_UNSET is %s\n", getenv("WARD_DEMO_UNSET") ? "set" : "unset");
}

static void show_clocks(void) {
  struct timespec a, b, res;
  check(clock_gettime(CLOCK_MONOTONIC, &a) == 0, "clock_gettime(MONOTONIC)");
  volatile unsigned long spin = 0;
  for (int i = 0; i < 100000; i++)
    spin += i;
  check(clock_gettime(CLOCK_MONOTONIC, &b) == 0, "clock_gettime(MONOTONIC)");
  int forward = b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec);
  printf("monotonic clock: %s\n", forward ? "moves forward" : "went backwards");
  check(clock_getres(CLOCK_MONOTONIC, &res) == 0, "clock_getres");
  printf("monotonic resolution: %s\n",
         res.tv_sec == 0 && res.tv_nsec > 0 ? "under a second" : "odd");
  time_t now = time(NULL);
  printf("realtime clock: %s\n", now > 1577836800 ? "after 2020" : "before 2020?");
}

static void show_random(void) {
  unsigned char x[32], y[32];
  check(getentropy(x, sizeof x) == 0, "getentropy");
  check(getentropy(y, sizeof y) == 0, "getentropy");
  printf("random: two draws %s\n", memcmp(x, y, sizeof x) != 0 ? "differ" : "are equal");
}

static void list_dir(const char *path) {
  DIR *d = opendir(path);
  check(d != NULL, "opendir");
  if (!d)
    return;
  char *names[64];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 64) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof names[0], by_name);
  printf("%s contains %d entries:\n", path, n);
  for (int i = 0; i < n; i++) {
    char full[256];
    struct stat st;
    snprintf(full, sizeof full, "%s/%s", path, names[i]);
    check(lstat(full, &st) == 0, "lstat");
    const char *kind = S_ISDIR(st.st_mode) ? "[dir] " : S_ISLNK(st.st_mode) ? "[link]" : "[file]";
    printf("  %s %s", kind, names[i]);
    if (S_ISREG(st.st_mode))
      printf(" (%lld bytes)", (long long)st.st_size);
    printf("\n");
    free(names[i]);
  }
}

static void show_files(void) {
  if (mkdir(DIR_NAME, 0755) != 0) {
    /* Under WASI this needs a preopened directory: ward run --dir HOST::/ demo.wasm */
    printf("cannot create %s (%s): skipping the file tour\n", DIR_NAME, errno_name(errno));
    failures++;
    return;
  }
  errno = 0;
  check(mkdir(DIR_NAME, 0755) != 0, "mkdir twice fails");
  printf("mkdir again: %s\n", errno_name(errno));

  FILE *f = fopen(DIR_NAME "/notes.txt", "w");
  check(f != NULL, "fopen w");
  fprintf(f, "first line\nsecond line\n");
  check(fclose(f) == 0, "fclose");
  f = fopen(DIR_NAME "/notes.txt", "a");
  check(f != NULL, "fopen a");
  fputs("third line\n", f);
  check(fclose(f) == 0, "fclose");

  struct stat st;
  check(stat(DIR_NAME "/notes.txt", &st) == 0, "stat");
  printf("notes.txt: %lld bytes, regular file: %s\n", (long long)st.st_size,
         S_ISREG(st.st_mode) ? "yes" : "no");

  f = fopen(DIR_NAME "/notes.txt", "r");
  check(f != NULL, "fopen r");
  char line[128];
  int number = 0;
  while (f && fgets(line, sizeof line, f))
    printf("  %d: %s", ++number, line);
  if (f)
    fclose(f);

  int fd = open(DIR_NAME "/notes.txt", O_RDONLY);
  check(fd >= 0, "open");
  char word[7] = {0};
  check(pread(fd, word, 6, 11) == 6, "pread");
  check(lseek(fd, 0, SEEK_END) == st.st_size, "lseek to end");
  close(fd);
  printf("6 bytes at offset 11: \"%s\"\n", word);

  check(rename(DIR_NAME "/notes.txt", DIR_NAME "/renamed.txt") == 0, "rename");
  check(mkdir(DIR_NAME "/sub", 0755) == 0, "mkdir sub");
  fd = open(DIR_NAME "/sub/empty", O_WRONLY | O_CREAT | O_EXCL, 0644);
  check(fd >= 0, "create empty");
  close(fd);
  check(symlink("renamed.txt", DIR_NAME "/link") == 0, "symlink");
  char target[64] = {0};
  check(readlink(DIR_NAME "/link", target, sizeof target - 1) > 0, "readlink");
  printf("link -> %s\n", target);
  check(truncate(DIR_NAME "/renamed.txt", 5) == 0, "truncate");
  list_dir(DIR_NAME);

  errno = 0;
  check(open(DIR_NAME "/missing", O_RDONLY) < 0, "opening a missing file fails");
  printf("open missing: %s\n", errno_name(errno));
  errno = 0;
  check(rmdir(DIR_NAME) != 0, "rmdir of a non-empty directory fails");
  printf("rmdir non-empty: %s\n", errno_name(errno));
  errno = 0;
  check(unlink(DIR_NAME "/sub") != 0, "unlink of a directory fails");
  printf("unlink a directory: %s\n", errno_name(errno));

  check(unlink(DIR_NAME "/link") == 0, "unlink link");
  check(unlink(DIR_NAME "/sub/empty") == 0, "unlink empty");
  check(rmdir(DIR_NAME "/sub") == 0, "rmdir sub");
  check(unlink(DIR_NAME "/renamed.txt") == 0, "unlink renamed");
  check(rmdir(DIR_NAME) == 0, "rmdir " DIR_NAME);
  printf("cleaned up: %s\n", access(DIR_NAME, F_OK) != 0 ? "yes" : "no");
}

static void echo_stdin(void) {
  char line[256];
  long lines = 0, words = 0, bytes = 0;
  while (fgets(line, sizeof line, stdin)) {
    int in_word = 0;
    lines++;
    for (char *p = line; *p; p++) {
      bytes++;
      if (isspace((unsigned char)*p)) {
        in_word = 0;
      } else if (!in_word) {
        in_word = 1;
        words++;
      }
      *p = (char)toupper((unsigned char)*p);
    }
    size_t len = strlen(line);
    printf("> %s%s", line, len > 0 && line[len - 1] == '\n' ? "" : "\n");
  }
  printf("stdin: %ld lines, %ld words, %ld bytes\n", lines, words, bytes);
}

int main(int argc, char **argv) {
  show_args(argc, argv);
  show_env();
  show_clocks();
  show_random();
  show_files();
  echo_stdin();
  printf("%s\n", failures == 0 ? "all checks passed" : "some checks failed");
  return failures == 0 ? 0 : 1;
}
