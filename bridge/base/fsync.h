/* bridge/base/fsync.h — a new name made durable.
 *
 * Contract: base_fsync_parent(path) opens the folder that holds path and
 * fsyncs it, so a file created, linked or renamed there survives a crash
 * under its name. 0, or -1 with errno set (a path longer than PATH_MAX:
 * ENAMETOOLONG).
 */
#ifndef BRIDGE_BASE_FSYNC_H
#define BRIDGE_BASE_FSYNC_H

int base_fsync_parent(const char *path);

#endif
