/*
 * bench_rabbit.h -- the RabbitMQ nodes of `secmq-bench --suite rabbitmq`
 * (bench_rabbit_nodes.c), as the suite (bench_rabbit.c) sees them.
 * Private to those two files.
 */
#ifndef SECMQ_BENCH_RABBIT_H
#define SECMQ_BENCH_RABBIT_H

#include "bench.h"

#define BENCH_RABBIT_MAX_NODES 3
#define BENCH_RABBIT_EPMD "/usr/bin/epmd"

typedef struct bench_rnode {
    char name[80]; /* secmqbenchPIDx@localhost */
    char dir[BENCH_PATH_BYTES];
    char log[BENCH_PATH_BYTES];
    int mqtt_port;
    int dist_port;
    pid_t pid;       /* the rabbitmq-server script */
    bench_broker vm; /* only pid: the Erlang VM, for its CPU time */
    double start_s;  /* spawn .. MQTT listener open */
} bench_rnode;

/* A cluster of nnodes nodes; node[0] is the one the others joined. */
typedef struct bench_rcluster {
    bench_rnode node[BENCH_RABBIT_MAX_NODES];
    int nnodes;
    int epmd_port;
    long prefetch;              /* mqtt.prefetch; 0: RabbitMQ's (10) */
    char version[32];           /* RabbitMQ's, from node[0]'s log */
    char dir[BENCH_PATH_BYTES]; /* the nodes' directories are in it */
} bench_rcluster;

/*
 * Starts nodes (2..BENCH_RABBIT_MAX_NODES) nodes of rabbitmq-server
 * (server, its path) one after the other, in dir (an existing private
 * directory holding the PKI in dir/pki: ca.crt, broker.crt, broker.key),
 * each waited for until its MQTT TLS listener accepts; the later ones
 * join the first; c->prefetch is set by the caller (the rest of c is
 * written). Sets this process's HOME, ERL_EPMD_* and RABBITMQ_*
 * variables (the nodes inherit them). Returns 0, or -1 with err;
 * bench_rabbit_stop() is needed either way.
 */
int bench_rabbit_start(bench_rcluster *c, const char *server, int nodes,
                       const char *dir, char *err, size_t errlen);

/* Stops every node (its Erlang VM killed, the script reaped) and the
 * cluster's epmd. Safe on a zeroed c. */
void bench_rabbit_stop(bench_rcluster *c);

/* CPU seconds all the nodes' Erlang VMs used so far, or -1 unknown. */
double bench_rabbit_cpu_s(const bench_rcluster *c);

#endif /* SECMQ_BENCH_RABBIT_H */
