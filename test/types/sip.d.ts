// Minimal typings for the npm "sip" package (CommonJS, untyped). Only what
// the interop test (test/sip/message/interop.test.ts) uses; kadsip parses SIP
// itself (src/sip/message). Here, not in src/: `sip` is a devDependency.
declare module 'sip' {
  namespace sip {
    interface ParsedMessage {
      method?: string;
      uri?: string;
      version?: string;
      status?: number;
      reason?: string;
      headers: Record<string, unknown> & {
        'call-id'?: string;
        cseq?: { seq: number; method: string };
      };
      content?: string;
    }
    function parse(data: string | Buffer): ParsedMessage | undefined;
    function stringify(message: ParsedMessage): string;
  }
  export = sip;
}
