import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

/**
 * Local Neo4j Community for polymath-etl's dev/test stack (tools/stack/stack.sh).
 *
 * Runs an embedded DBMS with a Bolt listener on 127.0.0.1 and blocks until SIGTERM/SIGINT,
 * when a shutdown hook stops it cleanly.
 *
 * Usage: java -cp 'lib/*:classes' Launcher HOME_DIR PORT
 *
 * Environment:
 *   POLYMATH_NEO4J_AUTH      "none" disables authentication; anything else (default) enables it
 *   POLYMATH_NEO4J_PASSWORD  password for the `neo4j` user when auth is on (default polymath-local)
 *   POLYMATH_NEO4J_PAGECACHE page cache size in MiB (default 256)
 *
 * Prints exactly one of these lines on stdout:
 *   NEO4J READY bolt://127.0.0.1:PORT
 *   NEO4J FAILED <reason>
 * Everything else (Neo4j's own logging, stack traces) goes to stderr / HOME_DIR/logs.
 */
public final class Launcher {
    private static final String HOST = "127.0.0.1";

    public static void main(String[] args) {
        if (args.length != 2) {
            fail("usage: Launcher HOME_DIR PORT");
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port;
        try {
            port = Integer.parseInt(args[1]);
        } catch (NumberFormatException e) {
            fail("invalid port '" + args[1] + "'");
            return;
        }
        Map<String, String> env = System.getenv();
        boolean auth = !"none".equalsIgnoreCase(env.getOrDefault("POLYMATH_NEO4J_AUTH", "password").trim());
        String password = env.getOrDefault("POLYMATH_NEO4J_PASSWORD", "polymath-local");
        long pageCacheMiB = Long.parseLong(env.getOrDefault("POLYMATH_NEO4J_PAGECACHE", "256"));

        if (portInUse(port)) {
            fail("port " + HOST + ":" + port + " is already in use");
        }

        DatabaseManagementService dbms;
        try {
            Files.createDirectories(home);
            dbms = new DatabaseManagementServiceBuilder(home)
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, port))
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    // Bolt otherwise waits 2 x 5s on shutdown even when no client is connected.
                    .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                    .setConfig(GraphDatabaseSettings.auth_enabled, auth)
                    .setConfig(GraphDatabaseSettings.pagecache_memory, pageCacheMiB * 1024L * 1024L)
                    // Bound disk use of a long-lived dev store: small, non-preallocated tx logs.
                    .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                    .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, 64L * 1024L * 1024L)
                    .setConfig(GraphDatabaseSettings.keep_logical_logs, "256M size")
                    .build();
        } catch (Throwable t) {
            t.printStackTrace();
            fail("could not start the DBMS: " + rootMessage(t));
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("neo4j launcher: shutting down");
            try {
                dbms.shutdown();
            } catch (Throwable t) {
                t.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "polymath-neo4j-shutdown"));

        try {
            GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            if (!db.isAvailable(Duration.ofMinutes(2).toMillis())) {
                fail("database '" + GraphDatabaseSettings.DEFAULT_DATABASE_NAME + "' did not become available");
            }
            if (auth) {
                setPassword(dbms, password);
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!portInUse(port)) {
                if (System.nanoTime() > deadline) {
                    fail("Bolt is not accepting connections on " + HOST + ":" + port);
                }
                Thread.sleep(100);
            }
        } catch (Throwable t) {
            t.printStackTrace();
            fail(rootMessage(t));
        }

        System.out.println("NEO4J READY bolt://" + HOST + ":" + port + (auth ? " auth=password" : " auth=none"));
        System.out.flush();

        try {
            stopped.await();
        } catch (InterruptedException ignored) {
            Thread.currentThread().interrupt();
        }
    }

    /** Make the `neo4j` user's password the configured one (also clears "change required"). */
    private static void setPassword(DatabaseManagementService dbms, String password) {
        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            String msg = String.valueOf(rootMessage(e));
            // Neo4j rejects setting the password it already has: that is the steady state.
            if (!msg.contains("cannot be the same")) {
                throw e;
            }
        }
    }

    private static boolean portInUse(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(HOST, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        String m = c.getMessage();
        return m == null ? c.getClass().getSimpleName() : m.replace('\n', ' ');
    }

    private static void fail(String reason) {
        System.out.println("NEO4J FAILED " + reason);
        System.out.flush();
        System.err.println("neo4j launcher: " + reason);
        System.exit(1);
    }
}
