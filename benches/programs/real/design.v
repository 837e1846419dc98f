// A small datapath for the synthesis benchmark: a 16-bit ALU with a
// registered accumulator and a CRC-8 over its output.
module top(input clk, input rst, input [2:0] op, input [15:0] a, input [15:0] b,
           output reg [15:0] acc, output reg [7:0] crc);
  reg [15:0] r;
  always @* begin
    case (op)
      3'd0: r = a + b;
      3'd1: r = a - b;
      3'd2: r = a & b;
      3'd3: r = a | b;
      3'd4: r = a ^ b;
      3'd5: r = a << b[3:0];
      3'd6: r = a >> b[3:0];
      default: r = a * b[7:0];
    endcase
  end
  integer i;
  reg [7:0] c;
  always @(posedge clk) begin
    if (rst) begin
      acc <= 16'd0;
      crc <= 8'hff;
    end else begin
      acc <= acc + r;
      c = crc;
      for (i = 0; i < 16; i = i + 1)
        c = {c[6:0], 1'b0} ^ ((c[7] ^ r[i]) ? 8'h07 : 8'h00);
      crc <= c;
    end
  end
endmodule
