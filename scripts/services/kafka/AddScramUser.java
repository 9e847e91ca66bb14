// Creates (or updates) a SCRAM user through the Admin API, for a broker whose storage was formatted
// before its SASL listener existed (a new storage gets its users at format time instead).
// usage: java -cp '.services/kafka/libs/*' scripts/services/kafka/AddScramUser.java BOOTSTRAP USER PASSWORD
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

public class AddScramUser {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: AddScramUser BOOTSTRAP USER PASSWORD");
      System.exit(2);
    }
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    try (Admin admin = Admin.create(props)) {
      // One mechanism per request: the broker refuses two changes to one user in the same request.
      for (ScramMechanism m : List.of(ScramMechanism.SCRAM_SHA_512, ScramMechanism.SCRAM_SHA_256)) {
        admin.alterUserScramCredentials(List.of(
            new UserScramCredentialUpsertion(args[1], new ScramCredentialInfo(m, 8192), args[2])))
            .all().get();
      }
    }
    System.out.println("SCRAM-SHA-512 and SCRAM-SHA-256 credentials set for " + args[1]);
  }
}
