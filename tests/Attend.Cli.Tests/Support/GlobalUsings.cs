global using Attend.Attention;
global using Attend.Data;
global using Attend.Training;
