// Starts DynamoDB Local (the DynamoDBLocal.jar from amplify-dynamodb-simulator) bound to
// 127.0.0.1 only. The jar has no host option: its server listens on every interface. This
// launcher builds the server exactly as the jar's own main does, then sets the Jetty
// connector's host to the loopback address before starting it.
//
// It also exits when its standard input closes: the Node process that started it holds the
// other end of that pipe, so when that process dies for any reason (even SIGKILL) the pipe
// closes and DynamoDB Local does not outlive it.
//
// Compiled once by local/dynamodb-local.ts into a cache directory; not part of any build.
import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.io.InputStream;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public final class LoopbackDynamoDBLocal {
  public static void main(String[] args) throws Exception {
    Thread watchdog = new Thread(() -> {
      try {
        InputStream in = System.in;
        byte[] buffer = new byte[256];
        while (in.read(buffer) != -1) {
          // Nothing is sent on this pipe; it only tells us that our parent is alive.
        }
      } catch (Exception ignored) {
        // A broken pipe means the same as end of input.
      }
      System.exit(0);
    }, "parent-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();

    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    int bound = 0;
    for (Connector connector : server.getConnectors()) {
      if (connector instanceof ServerConnector) {
        ((ServerConnector) connector).setHost("127.0.0.1");
        bound++;
      }
    }
    if (bound == 0) throw new IllegalStateException("no Jetty ServerConnector found to bind to 127.0.0.1");
    proxy.start();
    System.out.println("rapid-failover: DynamoDB Local listening on 127.0.0.1");
    proxy.join();
  }
}
