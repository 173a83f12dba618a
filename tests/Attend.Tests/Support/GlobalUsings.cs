global using Attend.Attention;
global using Attend.Data;
