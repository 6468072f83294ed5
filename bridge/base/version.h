/* bridge/base/version.h — the one place the version lives. */
#ifndef POPBRIDGE_VERSION_H
#define POPBRIDGE_VERSION_H
#define POPBRIDGE_VERSION "0.1.0"
#endif
