// conn.js -- the page's MQTT connection (MQTT.js over a wss:// WebSocket).
//
// Connects with the user name and password typed in (never stored),
// subscribes to the light's status, hands every message to the caller
// unopened and publishes bytes the caller sealed. Knows nothing of
// envelopes or keys.
import mqtt from 'mqtt';

const CONNECT_TIMEOUT_MS = 10000;
const PUBLISH_TIMEOUT_MS = 10000;

export class Connection {
  /**
   * @param {{onStatus: (text: string, connected: boolean) => void,
   *          onMessage: (topic: string, payload: Uint8Array,
   *                      retained: boolean) => void}} handlers
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.client = null;
  }

  /**
   * Connect and subscribe to topics (QoS 1). The client id is
   * USER-dash-<random> (a broker that ties client ids to user names, as in
   * docs/DEPLOY.md, accepts it). Resolves once subscribed.
   * @param {string} url wss://host:port/
   * @param {string} user
   * @param {string} password
   * @param {string[]} topics
   * @returns {Promise<void>}
   * @throws {Error} the URL is not wss://, the broker refused, or no
   *   answer within CONNECT_TIMEOUT_MS
   */
  connect(url, user, password, topics) {
    if (!/^wss:\/\//i.test(url)) {
      return Promise.reject(new Error('the URL must start with wss:// ' +
                                      '(TLS is not optional)'));
    }
    this.close();
    const rand = crypto.getRandomValues(new Uint8Array(4));
    const clientId = `${user}-dash-` +
      Array.from(rand, (b) => b.toString(16).padStart(2, '0')).join('');
    const client = mqtt.connect(url, {
      username: user,
      password,
      clientId,
      protocolVersion: 4,
      clean: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectPeriod: 5000,
    });
    this.client = client;
    client.on('message', (topic, payload, packet) => {
      this.handlers.onMessage(topic, new Uint8Array(payload), !!packet.retain);
    });
    client.on('reconnect', () => this.handlers.onStatus('reconnecting', false));
    client.on('offline', () => this.handlers.onStatus('offline', false));
    client.on('close', () => {
      if (this.client === client && !client.connected) {
        this.handlers.onStatus('disconnected', false);
      }
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        fail(new Error(`no answer from ${url} within ` +
                       `${CONNECT_TIMEOUT_MS / 1000} s`));
      }, CONNECT_TIMEOUT_MS + 1000);
      const fail = (err) => {
        clearTimeout(timer);
        if (this.client === client) {
          this.close();
        }
        reject(err);
      };
      // Until subscribed, an error ends the attempt; after, it is shown
      // and MQTT.js reconnects.
      client.on('error', fail);
      client.once('connect', () => {
        client.subscribe(topics, { qos: 1 }, (err, granted) => {
          if (err) {
            fail(err);
            return;
          }
          const refused = (granted || []).filter((g) => g.qos === 128);
          if (refused.length > 0) {
            fail(new Error('the broker refused the subscription to ' +
                           refused.map((g) => g.topic).join(', ')));
            return;
          }
          clearTimeout(timer);
          client.off('error', fail);
          client.on('connect', () => this.handlers.onStatus('connected', true));
          client.on('error', (e) => this.handlers.onStatus(
            'error: ' + e.message, false));
          this.handlers.onStatus('connected', true);
          resolve();
        });
      });
    });
  }

  /**
   * Publish payload at QoS 1; resolves when the broker acknowledged it.
   * @param {string} topic
   * @param {Uint8Array} payload
   * @returns {Promise<void>}
   * @throws {Error} not connected, or no PUBACK within PUBLISH_TIMEOUT_MS
   */
  publish(topic, payload) {
    const client = this.client;
    if (client === null || !client.connected) {
      return Promise.reject(new Error('not connected'));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(
        `no acknowledgement within ${PUBLISH_TIMEOUT_MS / 1000} s`)),
      PUBLISH_TIMEOUT_MS);
      client.publish(topic, payload, { qos: 1 }, (err) => {
        clearTimeout(timer);
        if (err) {
          reject(err);
        } else {
          resolve();
        }
      });
    });
  }

  /** Disconnect (nothing when not connected). */
  close() {
    const client = this.client;
    this.client = null;
    if (client !== null) {
      client.removeAllListeners('message');
      client.end(true);
      this.handlers.onStatus('disconnected', false);
    }
  }
}
